package region

import "testing"

func TestTable(t *testing.T) {
	if n := len(Countries()); n != 249 {
		t.Fatalf("%d ISO 3166-1 alpha-2 codes, want 249", n)
	}
	if len(EU) != 27 || len(EEA) != 30 {
		t.Fatalf("EU %d, EEA %d", len(EU), len(EEA))
	}
	for _, c := range EEA {
		if !IsCountry(c) {
			t.Errorf("%s is not in the table", c)
		}
	}
}

func TestValidate(t *testing.T) {
	for code, ok := range map[string]bool{
		"DE": true, "US-CA": true, "ES-CT": true, "GB-ENG": true, "FR-75": true,
		"de": false, "XX": false, "US-": false, "US-CALI": false, "US-ca": false, "": false, "UK": false, "EU": false,
	} {
		if err := Validate(code); (err == nil) != ok {
			t.Errorf("Validate(%q) = %v, want ok=%v", code, err, ok)
		}
	}
}

func TestCovers(t *testing.T) {
	for _, c := range []struct {
		named, code string
		want        bool
	}{{"US", "US", true}, {"US", "US-CA", true}, {"US-CA", "US", false}, {"U", "US", false}, {"US", "USA", false}} {
		if got := Covers(c.named, c.code); got != c.want {
			t.Errorf("Covers(%q, %q) = %v", c.named, c.code, got)
		}
	}
}
