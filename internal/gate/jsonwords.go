package gate

import "github.com/consentgate/consentgate/internal/jsontext"

// JSONProblem words a JSON decoding error for a person, without Go's type
// names: what was found where, and what was expected there
// (jsontext.Problem, which every reader of JSON shares).
func JSONProblem(err error) string { return jsontext.Problem(err) }
