package job

import "testing"

func TestVerdictString(t *testing.T) {
	if NeedReplica.String() != "need-replica" || Verdict(9).String() != "Verdict(9)" {
		t.Fatal("Verdict.String")
	}
}
