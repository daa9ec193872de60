package awsproto

import (
	"net/http"
	"time"
)

// emptySHA256 is the hex SHA-256 of an empty payload.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// AuthenticateBodiless finds who a request without a body (lambdad's own
// read-only endpoints, such as the web console's) comes from, by the rules
// of the API's operations: signatures checked with VerifyWith on, function
// keys held to their account and region, and calls from execution
// environments refused unless signed with their own key.
func (s *Service) AuthenticateBodiless(r *http.Request) (Identity, error) {
	id, chk, err := s.authenticate(r, time.Now())
	if err != nil {
		return id, err
	}
	if chk != nil {
		if err := chk.verify(s.signer, r, emptySHA256); err != nil {
			return id, err
		}
	}
	return id, nil
}
