// Package region owns region codes: the ISO 3166-1 alpha-2 table, ISO 3166-2
// style subdivisions (US-CA), and the built-in groups @EU and @EEA.
package region

import (
	"fmt"
	"strings"
)

// Unknown is the region name that matches a subject with no region.
const Unknown = "unknown"

// alpha2 lists every officially assigned ISO 3166-1 alpha-2 code.
const alpha2 = `AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ
BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX
CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI
GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM
JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF
MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU
NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH
SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW
TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW`

// EU is the 27 member states of the European Union.
var EU = strings.Fields("AT BE BG HR CY CZ DK EE FI FR DE GR IE IT LV LT LU MT NL PL PT RO SK SI ES SE HU")

// EEA is the European Economic Area: the EU plus Iceland, Liechtenstein and Norway.
var EEA = append(append([]string{}, EU...), "IS", "LI", "NO")

// Groups are the built-in region groups, by name including the @.
var Groups = map[string][]string{"@EU": EU, "@EEA": EEA}

var countries = func() map[string]bool {
	m := make(map[string]bool, 256)
	for _, c := range strings.Fields(alpha2) {
		m[c] = true
	}
	return m
}()

// Countries returns every ISO 3166-1 alpha-2 code, in table order.
func Countries() []string { return strings.Fields(alpha2) }

// IsCountry reports whether code is an assigned ISO 3166-1 alpha-2 code.
func IsCountry(code string) bool { return countries[code] }

// Validate checks that code is an ISO 3166-1 alpha-2 code (DE) or a
// subdivision of one in ISO 3166-2 form (US-CA: the country, a hyphen, and
// one to three upper-case letters or digits). The full ISO 3166-2 list is not
// embedded: a subdivision is accepted when its country is valid and its form
// is right.
func Validate(code string) error {
	country, sub, isSub := strings.Cut(code, "-")
	if !countries[country] {
		if strings.ToUpper(country) != country && countries[strings.ToUpper(country)] {
			return fmt.Errorf("region %q must be upper case (%q)", code, strings.ToUpper(code))
		}
		return fmt.Errorf("region %q is not an ISO 3166-1 alpha-2 code or ISO 3166-2 subdivision", code)
	}
	if !isSub {
		return nil
	}
	if len(sub) < 1 || len(sub) > 3 {
		return fmt.Errorf("region %q: a subdivision code has 1 to 3 characters after the hyphen", code)
	}
	for i := 0; i < len(sub); i++ {
		c := sub[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return fmt.Errorf("region %q: a subdivision code is upper-case letters and digits", code)
		}
	}
	return nil
}

// Country returns the country part of a code: "US" for "US-CA" and for "US".
func Country(code string) string {
	c, _, _ := strings.Cut(code, "-")
	return c
}

// Covers reports whether the named code matches the subject's code: a code
// matches itself and its subdivisions.
func Covers(named, code string) bool {
	if named == code {
		return true
	}
	return len(code) > len(named) && code[len(named)] == '-' && code[:len(named)] == named
}
