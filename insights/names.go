// Package insights holds the REST-shaped types the workflows and activities exchange with
// users (workflow input/result JSON) and with each other, their validation, and their
// conversion to and from the Contact Center Insights protos.
package insights

import (
	"fmt"
	"regexp"
	"strings"
)

// Resource-name patterns of the Contact Center Insights API. Project IDs may be numbers or
// domain-scoped ("example.com:proj"); IDs the service generates are kept permissive because
// they are the server's to choose.
var (
	locationPattern   = regexp.MustCompile(`^projects/[a-z0-9][a-z0-9.:-]{0,62}/locations/[a-z0-9][a-z0-9-]{0,62}$`)
	operationPattern  = regexp.MustCompile(`^(projects/[a-z0-9][a-z0-9.:-]{0,62}/locations/[a-z0-9][a-z0-9-]{0,62})/operations/[A-Za-z0-9_-]{1,128}$`)
	issueModelPattern = regexp.MustCompile(`^(projects/[a-z0-9][a-z0-9.:-]{0,62}/locations/[a-z0-9][a-z0-9-]{0,62})/issueModels/[A-Za-z0-9_-]{1,128}$`)
)

// ValidateParent checks a `projects/{project}/locations/{location}` name.
func ValidateParent(field, parent string) error {
	return validateName(field, parent, locationPattern, "projects/{project}/locations/{location}")
}

// ValidateOperationName checks a `projects/{p}/locations/{l}/operations/{id}` name.
func ValidateOperationName(field, name string) error {
	return validateName(field, name, operationPattern, "projects/{project}/locations/{location}/operations/{operation}")
}

// ValidateIssueModelName checks a `projects/{p}/locations/{l}/issueModels/{id}` name.
func ValidateIssueModelName(field, name string) error {
	return validateName(field, name, issueModelPattern, "projects/{project}/locations/{location}/issueModels/{issueModel}")
}

// validateName checks that name is set and matches pattern, whose form the errors show.
func validateName(field, name string, pattern *regexp.Regexp, form string) error {
	if name == "" {
		return InvalidArgument(field, "is required ("+form+")")
	}
	if !pattern.MatchString(name) {
		return InvalidArgument(field, fmt.Sprintf("%q is not of the form %s", Clip(name), form))
	}
	return nil
}

// ParentOf returns the `projects/{p}/locations/{l}` part of an operation or issue-model name,
// or "" when the name is neither.
func ParentOf(name string) string {
	if m := operationPattern.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	if m := issueModelPattern.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return ""
}

// LocationOf returns the location of a `projects/{p}/locations/{l}` parent or of an operation or
// issue-model name in one, or "" when the name is none of these.
func LocationOf(name string) string {
	parent := name
	if !locationPattern.MatchString(name) {
		parent = ParentOf(name)
	}
	if parent == "" {
		return ""
	}
	return parent[strings.LastIndexByte(parent, '/')+1:]
}

// ProjectOf returns the Google project of any resource or operation name of the API
// (`projects/{project}/...`), or "" when name does not begin with one. The API's quota is per
// project, so it is the fairness key of every API call (see workflows' activity options).
func ProjectOf(name string) string {
	rest, ok := strings.CutPrefix(name, "projects/")
	if !ok {
		return ""
	}
	project, _, _ := strings.Cut(rest, "/")
	return project
}

// Clip keeps error messages readable when a caller sends a huge value.
func Clip(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
