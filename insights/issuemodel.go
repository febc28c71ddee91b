package insights

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
)

// IssueModelSpec is the user-settable part of an IssueModel, with the REST API's field names and
// enum spellings, as in the body of CreateIssueModel.
type IssueModelSpec struct {
	DisplayName     string          `json:"displayName"`
	InputDataConfig InputDataConfig `json:"inputDataConfig"`
	ModelType       string          `json:"modelType,omitempty"`    // TYPE_V1 | TYPE_V2
	LanguageCode    string          `json:"languageCode,omitempty"` // BCP-47, e.g. "en-US"
}

// InputDataConfig selects the conversations the model is trained on.
type InputDataConfig struct {
	Medium string `json:"medium,omitempty"` // PHONE_CALL | CHAT
	Filter string `json:"filter,omitempty"` // e.g. medium="CHAT"
}

// Limits on free text. Google does not publish them; these are generous and keep workflow
// histories small.
const (
	MaxDisplayNameLen = 256
	MaxFilterLen      = 8 << 10
)

var languageCodePattern = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)

// Validate checks the spec; field names in errors are prefixed with prefix (e.g. "issueModel").
func (s IssueModelSpec) Validate(prefix string) error {
	if strings.TrimSpace(s.DisplayName) == "" {
		return InvalidArgument(prefix+".displayName", "is required")
	}
	if err := checkText(prefix+".displayName", s.DisplayName, MaxDisplayNameLen, false); err != nil {
		return err
	}
	if s.InputDataConfig.Medium != "" {
		if _, ok := contactcenterinsightspb.Conversation_Medium_value[s.InputDataConfig.Medium]; !ok {
			return InvalidArgument(prefix+".inputDataConfig.medium", fmt.Sprintf("%q is not one of PHONE_CALL, CHAT", Clip(s.InputDataConfig.Medium)))
		}
	}
	if err := checkText(prefix+".inputDataConfig.filter", s.InputDataConfig.Filter, MaxFilterLen, true); err != nil {
		return err
	}
	if s.ModelType != "" {
		if _, ok := contactcenterinsightspb.IssueModel_ModelType_value[s.ModelType]; !ok {
			return InvalidArgument(prefix+".modelType", fmt.Sprintf("%q is not one of TYPE_V1, TYPE_V2", Clip(s.ModelType)))
		}
	}
	if s.LanguageCode != "" && !languageCodePattern.MatchString(s.LanguageCode) {
		return InvalidArgument(prefix+".languageCode", fmt.Sprintf("%q is not a BCP-47 language code such as en-US", Clip(s.LanguageCode)))
	}
	return nil
}

// checkText rejects over-long text, text that was not valid UTF-8 (encoding/json turns invalid
// bytes into U+FFFD, so that rune is refused too) and control characters.
func checkText(field, s string, max int, multiline bool) error {
	if len(s) > max {
		return InvalidArgument(field, fmt.Sprintf("is %d bytes long; the limit is %d", len(s), max))
	}
	if !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) {
		return InvalidArgument(field, "is not valid UTF-8")
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if unicode.IsControl(r) {
			return InvalidArgument(field, fmt.Sprintf("contains the control character %U", r))
		}
	}
	return nil
}

// Proto converts the (validated) spec to the API's IssueModel.
func (s IssueModelSpec) Proto() *contactcenterinsightspb.IssueModel {
	return &contactcenterinsightspb.IssueModel{
		DisplayName: s.DisplayName,
		InputDataConfig: &contactcenterinsightspb.IssueModel_InputDataConfig{
			//lint:ignore SA1019 medium is deprecated in favour of the filter, but the REST API still accepts and returns it
			Medium: contactcenterinsightspb.Conversation_Medium(contactcenterinsightspb.Conversation_Medium_value[s.InputDataConfig.Medium]),
			Filter: s.InputDataConfig.Filter,
		},
		ModelType:    contactcenterinsightspb.IssueModel_ModelType(contactcenterinsightspb.IssueModel_ModelType_value[s.ModelType]),
		LanguageCode: s.LanguageCode,
	}
}
