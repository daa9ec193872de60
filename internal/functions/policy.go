package functions

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// bPolicies holds resource policies: acct/region/name/qualifier -> policy.
// Statements are kept and returned exactly; lambdad does not enforce them
// (it has no IAM), which the README says.
const bPolicies = "policies"

type policy struct {
	Statements []json.RawMessage `json:"statements"`
	RevisionID string            `json:"revisionId"`
}

// statement is one policy statement in AWS's member order.
type statement struct {
	Sid       string             `json:"Sid"`
	Effect    string             `json:"Effect"`
	Principal any                `json:"Principal"`
	Action    string             `json:"Action"`
	Resource  string             `json:"Resource"`
	Condition *orderedConditions `json:"Condition,omitempty"`
}

// orderedConditions keeps AWS's order: StringEquals, then ArnLike.
type orderedConditions struct {
	StringEquals *orderedMap `json:"StringEquals,omitempty"`
	ArnLike      *orderedMap `json:"ArnLike,omitempty"`
}

// orderedMap is a JSON object whose keys keep their insertion order.
type orderedMap struct{ keys, values []string }

func (m *orderedMap) add(k, v string) { m.keys, m.values = append(m.keys, k), append(m.values, v) }

func (m *orderedMap) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kk, _ := json.Marshal(k)
		vv, _ := json.Marshal(m.values[i])
		b.Write(kk)
		b.WriteByte(':')
		b.Write(vv)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

var (
	accountPrincipal = regexp.MustCompile(`^\d{12}$`)
	arnPrincipal     = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:iam::\d{12}:.+$`)
	servicePrincipal = regexp.MustCompile(`^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$`)
)

func principalOf(p string) (any, error) {
	switch {
	case p == "*":
		return "*", nil
	case accountPrincipal.MatchString(p):
		return map[string]string{"AWS": "arn:aws:iam::" + p + ":root"}, nil
	case arnPrincipal.MatchString(p):
		return map[string]string{"AWS": p}, nil
	case servicePrincipal.MatchString(p):
		return map[string]string{"Service": p}, nil
	}
	return nil, fault.InvalidParameterf("The provided principal was invalid. Please check the principal and try again.")
}

func policyKey(ref Ref) string { return fnKey(ref) + "/" + ref.Qualifier }

// checkTarget verifies the function, version or alias a policy is for.
func (s *Service) checkTarget(tx store.Tx, ref Ref) error {
	if _, err := s.loadFunction(tx, ref.Unqualified()); err != nil {
		return err
	}
	switch q := ref.Qualifier; {
	case q == "":
		return nil
	case isVersionNumber(q):
		v, err := s.loadVersion(tx, ref, versionNumber(q))
		if err == nil && v == nil {
			err = notFound(ref)
		}
		return err
	default:
		a, err := loadAlias(tx, ref, q)
		if err == nil && a == nil {
			if strings.ContainsAny(q, "$") {
				return notFound(ref)
			}
			err = fault.NotFoundf("Alias", "Cannot find alias arn: %s", ref.QualifiedARN())
		}
		return err
	}
}

func loadPolicy(tx store.Tx, ref Ref) (*policy, error) {
	raw := tx.Get(bPolicies, policyKey(ref))
	if raw == nil {
		return nil, nil
	}
	p := new(policy)
	return p, decodePolicy(raw, p)
}

func policyRevisionError() error {
	return fault.PreconditionFailedf("The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
}

// AddPermission is AddPermission: the statement is stored and returned.
func (s *Service) AddPermission(ctx context.Context, ref Ref, in *spec.AddPermissionRequest) (string, error) {
	if ref.Qualifier == Latest {
		return "", fault.InvalidParameterf("We currently do not support adding policies for $LATEST.")
	}
	principal, err := principalOf(*in.Principal)
	if err != nil {
		return "", err
	}
	st := statement{Sid: *in.StatementId, Effect: "Allow", Principal: principal, Action: *in.Action, Resource: ref.QualifiedARN()}
	var eq, like orderedMap
	if in.SourceAccount != nil {
		eq.add("AWS:SourceAccount", *in.SourceAccount)
	}
	if in.FunctionUrlAuthType != nil {
		eq.add("lambda:FunctionUrlAuthType", *in.FunctionUrlAuthType)
	}
	if in.PrincipalOrgID != nil {
		eq.add("aws:PrincipalOrgID", *in.PrincipalOrgID)
	}
	if in.EventSourceToken != nil {
		eq.add("lambda:EventSourceToken", *in.EventSourceToken)
	}
	if in.SourceArn != nil {
		like.add("AWS:SourceArn", *in.SourceArn)
	}
	if len(eq.keys)+len(like.keys) > 0 {
		st.Condition = &orderedConditions{}
		if len(eq.keys) > 0 {
			st.Condition.StringEquals = &eq
		}
		if len(like.keys) > 0 {
			st.Condition.ArnLike = &like
		}
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	err = s.update(ctx, func(tx store.Tx) error {
		p, bump, err := s.changingPolicy(tx, ref, in.RevisionId, false)
		if err != nil {
			return err
		}
		if p == nil {
			p = &policy{}
		}
		for _, old := range p.Statements {
			var o statement
			if json.Unmarshal(old, &o) == nil && o.Sid == st.Sid {
				return fault.Conflictf("Statement", "The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", st.Sid)
			}
		}
		p.Statements = append(p.Statements, raw)
		p.RevisionID = ids.UUID()
		if err := bump(p.RevisionID); err != nil {
			return err
		}
		b, _ := encodePolicy(p)
		return tx.Put(bPolicies, policyKey(ref), b)
	})
	return string(raw), err
}

// RemovePermission is RemovePermission.
func (s *Service) RemovePermission(ctx context.Context, ref Ref, sid string, revision *string) error {
	return s.update(ctx, func(tx store.Tx) error {
		if tx.Get(bFunctions, fnKey(ref)) == nil {
			return fault.NotFoundf("Policy", "No policy found for: %s", ref.QualifiedARN())
		}
		p, bump, err := s.changingPolicy(tx, ref, revision, true)
		if err != nil {
			return err
		}
		for i, old := range p.Statements {
			var o statement
			if json.Unmarshal(old, &o) == nil && o.Sid == sid {
				p.Statements = append(p.Statements[:i], p.Statements[i+1:]...)
				p.RevisionID = ids.UUID()
				if err := bump(p.RevisionID); err != nil {
					return err
				}
				if len(p.Statements) == 0 {
					return tx.Delete(bPolicies, policyKey(ref))
				}
				b, _ := encodePolicy(p)
				return tx.Put(bPolicies, policyKey(ref), b)
			}
		}
		return fault.NotFoundf("Statement", "Statement %s is not found in resource policy.", sid)
	})
}

// GetPolicy is GetPolicy.
func (s *Service) GetPolicy(ctx context.Context, ref Ref) (*spec.GetPolicyResponse, error) {
	var out *spec.GetPolicyResponse
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		if err := s.checkTarget(tx, ref); err != nil {
			if fault.Is(err, fault.NotFound) {
				return fault.NotFoundf("Policy", "The resource you requested does not exist.")
			}
			return err
		}
		p, err := loadPolicy(tx, ref)
		if err != nil {
			return err
		}
		if p == nil || len(p.Statements) == 0 {
			return fault.NotFoundf("Policy", "The resource you requested does not exist.")
		}
		doc, _ := json.Marshal(struct {
			Version   string            `json:"Version"`
			ID        string            `json:"Id"`
			Statement []json.RawMessage `json:"Statement"`
		}{"2012-10-17", "default", p.Statements})
		rev, _, err := s.policyTarget(tx, ref, s.cfg.Now())
		if err != nil {
			return err
		}
		out = &spec.GetPolicyResponse{Policy: str(string(doc)), RevisionId: str(rev)}
		return nil
	})
	return out, err
}

// changingPolicy starts a change of ref's policy in tx: ref must exist,
// and revision, when given, be the RevisionId of what the policy is for
// (policyrev.go), which bump renews. The policy is nil when there is none;
// with needStatements, that is AWS's 404.
func (s *Service) changingPolicy(tx store.Tx, ref Ref, revision *string, needStatements bool) (*policy, func(rev string) error, error) {
	if err := s.checkTarget(tx, ref); err != nil {
		return nil, nil, err
	}
	p, err := loadPolicy(tx, ref)
	if err != nil {
		return nil, nil, err
	}
	if needStatements && (p == nil || len(p.Statements) == 0) {
		return nil, nil, fault.NotFoundf("Policy", "No policy is associated with the given resource.")
	}
	rev, bump, err := s.policyTarget(tx, ref, s.cfg.Now())
	if err != nil {
		return nil, nil, err
	}
	if revision != nil && *revision != rev {
		return nil, nil, policyRevisionError()
	}
	return p, bump, nil
}
