package awsproto

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"
)

// Authenticate checks r, whose body has been read whole, as the Lambda API
// checks its own requests (the same credentials, function keys and
// environment rules), for another AWS service served on lambdad's listener
// (the CloudWatch Logs API): service is the name its signature's scope
// must carry.
func (s *Service) Authenticate(r *http.Request, service string, body []byte) (Identity, error) {
	id, chk, err := s.authenticate(r, time.Now())
	if err != nil || chk == nil {
		return id, err
	}
	if chk.auth.Service != service {
		// [?] AWS's wording for a signature scoped to another service.
		return id, &Error{Code: "InvalidSignatureException", Status: http.StatusForbidden,
			Message: "Credential should be scoped to correct service: '" + service + "'. "}
	}
	sum := sha256.Sum256(body)
	ph := hex.EncodeToString(sum[:])
	switch h := r.Header.Get("X-Amz-Content-Sha256"); h {
	case "", ph:
	case "UNSIGNED-PAYLOAD":
		ph = h
	default:
		return id, errMismatch()
	}
	return id, chk.verify(s.signer, r, ph)
}
