package insightstest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
)

// filter is the emulator's subset of the conversation filter language:
// terms joined by AND, each one of
//
//	medium="CHAT"  agent_id="007"  labels.KEY="value"  latest_analysis:*  -latest_analysis:*
//
// (quotes optional). The empty filter matches every conversation.
type filter []func(*contactcenterinsightspb.Conversation) bool

var (
	andRE  = regexp.MustCompile(`\s+AND\s+`)
	termRE = regexp.MustCompile(`^(medium|agent_id|labels\.[A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_.-]+)$`)
)

func parseFilter(s string) (filter, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var f filter
	for _, term := range andRE.Split(s, -1) {
		term = strings.TrimSpace(term)
		switch strings.ReplaceAll(term, " ", "") {
		case "latest_analysis:*":
			f = append(f, func(c *contactcenterinsightspb.Conversation) bool { return c.LatestAnalysis != nil })
			continue
		case "-latest_analysis:*", "NOTlatest_analysis:*":
			f = append(f, func(c *contactcenterinsightspb.Conversation) bool { return c.LatestAnalysis == nil })
			continue
		}
		m := termRE.FindStringSubmatch(term)
		if m == nil {
			return nil, fmt.Errorf("unsupported term %q in %q (the emulator supports medium=, agent_id=, labels.KEY=, latest_analysis:* and -latest_analysis:*, joined by AND)", term, s)
		}
		field, value := m[1], m[2]
		if strings.HasPrefix(value, `"`) {
			v, err := strconv.Unquote(value)
			if err != nil {
				return nil, fmt.Errorf("bad string %s in %q", value, s)
			}
			value = v
		}
		switch {
		case field == "medium":
			want, ok := contactcenterinsightspb.Conversation_Medium_value[value]
			if !ok {
				return nil, fmt.Errorf("unknown medium %q in %q", value, s)
			}
			f = append(f, func(c *contactcenterinsightspb.Conversation) bool { return int32(c.Medium) == want })
		case field == "agent_id":
			f = append(f, func(c *contactcenterinsightspb.Conversation) bool { return c.AgentId == value })
		default:
			key := strings.TrimPrefix(field, "labels.")
			f = append(f, func(c *contactcenterinsightspb.Conversation) bool { return c.Labels[key] == value })
		}
	}
	return f, nil
}

func (f filter) match(c *contactcenterinsightspb.Conversation) bool {
	for _, t := range f {
		if !t(c) {
			return false
		}
	}
	return true
}
