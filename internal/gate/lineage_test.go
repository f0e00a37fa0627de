package gate_test

import (
	"fmt"
	"testing"

	"github.com/consentgate/consentgate/internal/gate"
)

// TestGroupJobs: runs group by job in first-seen order, counting runs,
// keeping the latest finish and the first notice a run came after.
func TestGroupJobs(t *testing.T) {
	got := gate.GroupJobs([]gate.LineageLink{
		{Namespace: "p", Job: "a", At: 5},
		{Namespace: "p", Job: "b", At: 3},
		{Namespace: "p", Job: "a", At: 9, AfterNotice: "n1"},
		{Namespace: "q", Job: "a", At: 1},
		{Namespace: "p", Job: "a", At: 7, AfterNotice: "n2"},
	})
	want := []gate.JobRuns{{"p", "a", 3, 9, "n1"}, {"p", "b", 1, 3, ""}, {"q", "a", 1, 1, ""}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("GroupJobs: %v, want %v", got, want)
	}
}
