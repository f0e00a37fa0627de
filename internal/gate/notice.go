package gate

import (
	"encoding/json"
	"os"

	"github.com/consentgate/consentgate/internal/notice"
)

// VerifyNotice checks a notice as its recipient does (SPEC §11), with no
// store: the notice's and the manifest's signatures with the log's
// verifier key, that they name the same export and records_root, and
// every record's inclusion proof; given the notice as GET /v1/notices/{id}
// or `notices show` answer it (with its log evidence), also that it is in
// the log under a checkpoint signed with the key (inLog). A notice that
// does not check is Inconsistent, with what failed.
//
// With dataset (the recipient's copy of the export's output; "" for none),
// it also checks that the line at each record's index is the one the
// notice names.
func VerifyNotice(noticePath, manifestPath, verifierKey, dataset string) (n *notice.Notice, inLog bool, err error) {
	if err := CheckVerifierKey(verifierKey); err != nil {
		return nil, false, err
	}
	nb, err := os.ReadFile(noticePath)
	if err != nil {
		return nil, false, &Error{Code: Invalid, Message: pathProblem(err), Err: err}
	}
	mb, err := os.ReadFile(manifestPath)
	if err != nil {
		return nil, false, &Error{Code: Invalid, Message: pathProblem(err), Err: err}
	}
	n, inLog, err = notice.VerifyBundle(nb, mb, verifierKey)
	if err != nil {
		return nil, false, &Error{Code: Inconsistent, Message: noticePath + " does not verify: " + err.Error(), Err: err}
	}
	if dataset != "" {
		var m struct {
			Output struct {
				Format string `json:"format"`
			} `json:"output"`
		}
		json.Unmarshal(mb, &m)
		lines, closeFn, err := outputLines(dataset, m.Output.Format)
		if err != nil {
			return nil, false, &Error{Code: Invalid, Message: pathProblem(err), Err: err}
		}
		defer closeFn()
		if _, err := notice.CheckDataset(n, lines); err != nil {
			return nil, false, &Error{Code: Inconsistent, Message: dataset + ": " + err.Error(), Err: err}
		}
	}
	return n, inLog, nil
}
