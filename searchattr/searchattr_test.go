package searchattr

import (
	"slices"
	"testing"
)

func TestDevServerArgsRegisterEveryAttribute(t *testing.T) {
	want := []string{"--search-attribute", "InsightsOperation=Keyword", "--search-attribute", "InsightsPhase=Keyword"}
	if got := DevServerArgs(); !slices.Equal(got, want) {
		t.Fatalf("DevServerArgs() = %q, want %q", got, want)
	}
	if n := len(Types()); n != 2 {
		t.Fatalf("%d search attributes, want 2", n)
	}
}

func TestRegisterCommandNamesEachAttribute(t *testing.T) {
	got := RegisterCommand("", []string{"InsightsOperation", "InsightsPhase"})
	want := "temporal operator search-attribute create --namespace default --name InsightsOperation --type Keyword --name InsightsPhase --type Keyword"
	if got != want {
		t.Fatalf("RegisterCommand = %q, want %q", got, want)
	}
}
