package functions

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// bLayerPolicies holds layer versions' resource policies:
// acct/region/name/%010d -> policy (the same record as a function's policy).
// Unlike function policies, lambdad enforces these: they decide which other
// accounts may read a layer version and use it in their functions.
const bLayerPolicies = "layerpolicies"

func layerVersionKey(ref LayerRef, n int64) string { return fmt.Sprintf("%s/%010d", ref.key(), n) }

func layerVersionARN(ref LayerRef, n int64) string {
	return ref.ARN() + ":" + strconv.FormatInt(n, 10)
}

// layerVersionNotFound is what the layer permission operations answer for a
// layer or version that does not exist (AWS-recorded).
func layerVersionNotFound(ref LayerRef, n int64) error {
	return fault.NotFoundf("Layer", "Layer version %s does not exist.", layerVersionARN(ref, n))
}

func layerPolicyRevisionError() error {
	return fault.PreconditionFailedf("The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id")
}

// layerStatement is one statement of a layer version's policy, in AWS's
// member order.
type layerStatement struct {
	Sid       string             `json:"Sid"`
	Effect    string             `json:"Effect"`
	Principal any                `json:"Principal"`
	Action    string             `json:"Action"`
	Resource  string             `json:"Resource"`
	Condition *orderedConditions `json:"Condition,omitempty"`
}

func loadLayerPolicy(tx store.Tx, ref LayerRef, n int64) (*policy, error) {
	raw := tx.Get(bLayerPolicies, layerVersionKey(ref, n))
	if raw == nil {
		return nil, nil
	}
	p := new(policy)
	return p, decodePolicy(raw, p)
}

// AddLayerPermission is AddLayerVersionPermission. The model's validation
// has already checked Action (only lambda:GetLayerVersion), Principal (an
// account, its root ARN or *) and OrganizationId.
func (s *Service) AddLayerPermission(ctx context.Context, ref LayerRef, n int64, in *spec.AddLayerVersionPermissionRequest) (statement string, revision string, err error) {
	if err := checkLayerVersion(n); err != nil {
		return "", "", err
	}
	st := layerStatement{Sid: *in.StatementId, Effect: "Allow", Action: *in.Action, Resource: layerVersionARN(ref, n)}
	switch p := *in.Principal; {
	case p == "*":
		st.Principal = "*"
	case accountPrincipal.MatchString(p):
		st.Principal = map[string]string{"AWS": "arn:aws:iam::" + p + ":root"}
	default:
		st.Principal = map[string]string{"AWS": p}
	}
	if in.OrganizationId != nil {
		var eq orderedMap
		eq.add("aws:PrincipalOrgID", *in.OrganizationId)
		st.Condition = &orderedConditions{StringEquals: &eq}
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return "", "", err
	}
	err = s.update(ctx, func(tx store.Tx) error {
		p, err := layerVersionPolicy(tx, ref, n)
		if err != nil {
			return err
		}
		if p == nil {
			p = &policy{}
		} else if in.RevisionId != nil && *in.RevisionId != p.RevisionID {
			return layerPolicyRevisionError()
		}
		for _, old := range p.Statements {
			var o layerStatement
			if json.Unmarshal(old, &o) == nil && o.Sid == st.Sid {
				return fault.Conflictf("Statement", "The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", st.Sid)
			}
		}
		p.Statements = append(p.Statements, raw)
		p.RevisionID = ids.UUID()
		revision = p.RevisionID
		b, err := encodePolicy(p)
		if err != nil {
			return err
		}
		return tx.Put(bLayerPolicies, layerVersionKey(ref, n), b)
	})
	if err != nil {
		return "", "", err
	}
	return string(raw), revision, nil
}

// RemoveLayerPermission is RemoveLayerVersionPermission.
func (s *Service) RemoveLayerPermission(ctx context.Context, ref LayerRef, n int64, sid string, revision *string) error {
	if err := checkLayerVersion(n); err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		p, err := layerVersionPolicy(tx, ref, n)
		if err != nil {
			return err
		}
		if p == nil || len(p.Statements) == 0 {
			// [?] AWS's answer to a version without a policy is not recorded;
			// this is GetLayerVersionPolicy's.
			return fault.NotFoundf("Policy", "No policy is associated with the given resource.")
		}
		if revision != nil && *revision != p.RevisionID {
			return layerPolicyRevisionError()
		}
		for i, old := range p.Statements {
			var o layerStatement
			if json.Unmarshal(old, &o) == nil && o.Sid == sid {
				p.Statements = append(p.Statements[:i], p.Statements[i+1:]...)
				if len(p.Statements) == 0 {
					return tx.Delete(bLayerPolicies, layerVersionKey(ref, n))
				}
				p.RevisionID = ids.UUID()
				b, err := encodePolicy(p)
				if err != nil {
					return err
				}
				return tx.Put(bLayerPolicies, layerVersionKey(ref, n), b)
			}
		}
		return fault.NotFoundf("Statement", "Statement %s is not found in resource policy.", sid)
	})
}

// GetLayerPolicy is GetLayerVersionPolicy.
func (s *Service) GetLayerPolicy(ctx context.Context, ref LayerRef, n int64) (*spec.GetLayerVersionPolicyResponse, error) {
	if err := checkLayerVersion(n); err != nil {
		return nil, err
	}
	var out *spec.GetLayerVersionPolicyResponse
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		p, err := layerVersionPolicy(tx, ref, n)
		if err != nil {
			return err
		}
		if p == nil || len(p.Statements) == 0 {
			return fault.NotFoundf("Policy", "No policy is associated with the given resource.")
		}
		doc, err := json.Marshal(struct {
			Version   string            `json:"Version"`
			ID        string            `json:"Id"`
			Statement []json.RawMessage `json:"Statement"`
		}{"2012-10-17", "default", p.Statements})
		if err != nil {
			return err
		}
		out = &spec.GetLayerVersionPolicyResponse{Policy: str(string(doc)), RevisionId: str(p.RevisionID)}
		return nil
	})
	return out, err
}

// layerGranted reports whether id may use version n of ref: its own
// layers always, another account's when a statement of the version's
// policy names it, its organization, or everyone.
func (s *Service) layerGranted(tx store.Tx, id caller.Identity, ref LayerRef, n int64) (bool, error) {
	if ref.Account == id.Account {
		return true, nil
	}
	p, err := loadLayerPolicy(tx, ref, n)
	if err != nil || p == nil {
		return false, err
	}
	org := s.cfg.Organizations[id.Account]
	for _, raw := range p.Statements {
		var st struct {
			Effect    string          `json:"Effect"`
			Principal json.RawMessage `json:"Principal"`
			Action    string          `json:"Action"`
			Condition *struct {
				StringEquals map[string]string `json:"StringEquals"`
			} `json:"Condition"`
		}
		if json.Unmarshal(raw, &st) != nil || st.Effect != "Allow" || st.Action != "lambda:GetLayerVersion" {
			continue
		}
		var principal string
		var aws struct {
			AWS string `json:"AWS"`
		}
		if json.Unmarshal(st.Principal, &principal) != nil {
			if json.Unmarshal(st.Principal, &aws) != nil {
				continue
			}
			principal = aws.AWS
		}
		switch {
		case principal == "*":
		case strings.HasPrefix(principal, "arn:") && strings.HasSuffix(principal, ":iam::"+id.Account+":root"):
		default:
			continue
		}
		if st.Condition != nil {
			if want, ok := st.Condition.StringEquals["aws:PrincipalOrgID"]; ok && (org == "" || want != org) {
				continue
			}
		}
		return true, nil
	}
	return false, nil
}

// layerAccessDenied is AWS's answer to using another account's layer
// version without its grant, or one that does not exist (AWS does not tell
// them apart for another account). The wording is AWS's, as users report it
// for CreateFunction called with an account's root credentials; for
// GetLayerVersion(ByArn) it is assumed the same [?]. lambdad knows the
// account, not the IAM user, so it always names the account's root.
func layerAccessDenied(id caller.Identity, ref LayerRef, n int64) error {
	return fault.AccessDeniedf("User: arn:aws:iam::%s:root is not authorized to perform: lambda:GetLayerVersion on resource: %s because no resource-based policy allows the lambda:GetLayerVersion action",
		id.Account, layerVersionARN(ref, n))
}

// ParseLayerRead accepts a layer name or ARN for reading one version: a
// layer of another account is allowed here, and GetLayerFor checks its grant.
func ParseLayerRead(id caller.Identity, name string) LayerRef {
	if ref, _, ok := layerARN(name); ok {
		return ref
	}
	return LayerRef{Account: id.Account, Region: id.Region, Name: name}
}

// GetLayerFor is GetLayerVersion by id, who may read another account's
// version when that account granted it.
func (s *Service) GetLayerFor(ctx context.Context, id caller.Identity, ref LayerRef, n int64) (*LayerVersion, error) {
	if err := checkLayerVersion(n); err != nil {
		return nil, err
	}
	var out *LayerVersion
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		ok, err := s.layerGranted(tx, id, ref, n)
		if err != nil {
			return err
		}
		if !ok {
			return layerAccessDenied(id, ref, n)
		}
		lv, err := loadLayer(tx, ref, n)
		if err != nil {
			return err
		}
		if lv == nil {
			if ref.Account != id.Account {
				return layerAccessDenied(id, ref, n)
			}
			return layerNotFound()
		}
		out = lv.view(ref)
		return nil
	})
	return out, err
}

// layerVersionPolicy is the policy of version n of ref (nil: none), once
// the version exists.
func layerVersionPolicy(tx store.Tx, ref LayerRef, n int64) (*policy, error) {
	lv, err := loadLayer(tx, ref, n)
	if err != nil {
		return nil, err
	}
	if lv == nil {
		return nil, layerVersionNotFound(ref, n)
	}
	return loadLayerPolicy(tx, ref, n)
}
