package gate

import (
	"os"

	"github.com/consentgate/consentgate/internal/notice"
)

// VerifyNotice checks a notice as its recipient does (SPEC §11), with no
// store: the notice's and the manifest's signatures with the log's
// verifier key, that they name the same export and records_root, and
// every record's inclusion proof. A notice that does not check is
// Inconsistent, with what failed.
func VerifyNotice(noticePath, manifestPath, verifierKey string) (*notice.Notice, error) {
	if err := CheckVerifierKey(verifierKey); err != nil {
		return nil, err
	}
	nb, err := os.ReadFile(noticePath)
	if err != nil {
		return nil, &Error{Code: Invalid, Message: pathProblem(err), Err: err}
	}
	mb, err := os.ReadFile(manifestPath)
	if err != nil {
		return nil, &Error{Code: Invalid, Message: pathProblem(err), Err: err}
	}
	n, err := notice.Verify(nb, mb, verifierKey)
	if err != nil {
		return nil, &Error{Code: Inconsistent, Message: noticePath + " does not verify: " + err.Error(), Err: err}
	}
	return n, nil
}
