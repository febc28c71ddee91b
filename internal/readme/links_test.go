package readme

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// maxREADMELines keeps the README a five-minute read: the reference lives in docs/.
const maxREADMELines = 250

func TestREADMEIsShort(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n > maxREADMELines {
		t.Errorf("README.md has %d lines, more than %d: move reference material to a page of docs/ and link it", n, maxREADMELines)
	}
}

// mdLink is an inline Markdown link or image: [text](target) or ![alt](target "title").
var mdLink = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// TestDocLinksResolve checks every relative link of README.md and docs/*.md: the file it names
// exists, and a #fragment names a heading of that file (as GitHub makes anchors of headings).
func TestDocLinksResolve(t *testing.T) {
	root := "../.."
	pages := []string{"README.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		rel, _ := filepath.Rel(root, d)
		pages = append(pages, rel)
	}
	if len(pages) < 2 {
		t.Fatal("no page in docs/")
	}
	anchors := map[string]map[string]bool{} // page (relative to root) → its anchors
	anchorsOf := func(page string) (map[string]bool, error) {
		if a, ok := anchors[page]; ok {
			return a, nil
		}
		b, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			return nil, err
		}
		anchors[page] = headingAnchors(string(b))
		return anchors[page], nil
	}
	links := 0
	for _, page := range pages {
		b, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range outsideCode(string(b)) {
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				links++
				where := fmt.Sprintf("%s:%d: link %q", page, i+1, target)
				file, frag, _ := strings.Cut(target, "#")
				dest := page
				if file != "" {
					dest = filepath.Clean(filepath.Join(filepath.Dir(page), file))
					if strings.HasPrefix(dest, "..") {
						t.Errorf("%s leaves the repository", where)
						continue
					}
					if _, err := os.Stat(filepath.Join(root, dest)); err != nil {
						t.Errorf("%s: no such file %s", where, dest)
						continue
					}
				}
				if frag == "" || !strings.HasSuffix(dest, ".md") {
					continue
				}
				a, err := anchorsOf(dest)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				if !a[frag] {
					t.Errorf("%s: %s has no heading with anchor #%s", where, dest, frag)
				}
			}
		}
	}
	t.Logf("%d relative links checked in %d pages", links, len(pages))
}

// outsideCode returns the page's lines with those inside fenced code blocks blanked, so that a
// shell comment is not taken for a heading nor a bracket for a link.
func outsideCode(page string) []string {
	lines := strings.Split(page, "\n")
	inCode := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inCode = !inCode
			lines[i] = ""
			continue
		}
		if inCode {
			lines[i] = ""
		}
	}
	return lines
}

// headingAnchors are the anchors GitHub gives a page's headings: lower case, punctuation other
// than '-' and '_' dropped, spaces made '-', and a repeated anchor suffixed -1, -2, ...
func headingAnchors(page string) map[string]bool {
	seen := map[string]int{}
	out := map[string]bool{}
	for _, l := range outsideCode(page) {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(l, "#"))
		if text == "" || !strings.HasPrefix(l, strings.Repeat("#", len(l)-len(strings.TrimLeft(l, "#")))+" ") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.M, r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// TestEveryPageLinkedFromREADME: a page of docs/ the README does not link is one nobody finds.
func TestEveryPageLinkedFromREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	linked := map[string]bool{}
	for _, line := range outsideCode(string(b)) {
		for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
			file, _, _ := strings.Cut(m[1], "#")
			linked[filepath.Clean(file)] = true
		}
	}
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		page := filepath.Join("docs", filepath.Base(d))
		if !linked[page] {
			t.Errorf("README.md does not link %s", page)
		}
	}
}
