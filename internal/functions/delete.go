package functions

import (
	"context"
	"strings"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/store"
)

// Delete is DeleteFunction: the whole function, or one published version.
func (s *Service) Delete(ctx context.Context, ref Ref) error {
	if ref.Qualifier == Latest {
		return awsproto.InvalidParameter("$LATEST version cannot be deleted without deleting the function.")
	}
	var unused []string
	err := s.update(ctx, func(tx store.Tx) error {
		rec, err := s.load(tx, ref)
		if err != nil {
			return err
		}
		if rec == nil {
			return notFound(ref.Unqualified())
		}
		drop := func(v *version, key string) error {
			gone, err := unrefVersion(tx, v, key)
			unused = append(unused, gone...)
			return err
		}
		if ref.Qualifier != "" {
			if !isVersionNumber(ref.Qualifier) {
				return awsproto.InvalidParameter("Deletion of aliases is not currently supported.")
			}
			n := versionNumber(ref.Qualifier)
			v, err := s.loadVersion(tx, ref, n)
			if err != nil {
				return err
			}
			if v == nil {
				return nil // deleting a version that is gone already succeeds, as in AWS
			}
			if names := aliasesOf(tx, ref, ref.Qualifier); len(names) > 0 {
				return awsproto.Conflict("Unable to delete version because the following aliases reference it: [%s]", strings.Join(names, ", "))
			}
			if err := tx.Delete(bVersions, verKey(ref, n)); err != nil {
				return err
			}
			if rec.LastPublish != nil && rec.LastPublish.Version == ref.Qualifier {
				rec.LastPublish = nil
				if err := s.save(tx, ref, rec); err != nil {
					return err
				}
			}
			return drop(v, verKey(ref, n))
		}
		var keys []string
		tx.Scan(bVersions, fnKey(ref)+"/", "", func(k string, raw []byte) bool {
			keys = append(keys, k)
			return true
		})
		for _, k := range keys {
			n := versionNumber(k[strings.LastIndexByte(k, '/')+1:])
			v, err := s.loadVersion(tx, ref, n)
			if err != nil {
				return err
			}
			if err := tx.Delete(bVersions, k); err != nil {
				return err
			}
			if v != nil {
				if err := drop(v, k); err != nil {
					return err
				}
			}
		}
		if err := drop(&rec.Latest, fnKey(ref)+"/"+Latest); err != nil {
			return err
		}
		if err := deleteURLs(tx, ref); err != nil {
			return err
		}
		for _, b := range []string{bAliases, bPolicies, bInvokeConfigs} {
			if err := deletePrefix(tx, b, fnKey(ref)+"/"); err != nil {
				return err
			}
		}
		return tx.Delete(bFunctions, fnKey(ref))
	})
	if err != nil {
		return err
	}
	// Retire the environments first: collecting removes the unpacked code
	// they run from.
	if s.cfg.Deleted != nil {
		s.cfg.Deleted(ref.ARN(), ref.Qualifier)
	}
	s.collect(unused)
	return nil
}

// aliasesOf names the aliases of fn that route to version, as their main
// version or with a weight.
func aliasesOf(tx store.Tx, fn Ref, version string) []string {
	var names []string
	tx.Scan(bAliases, fnKey(fn)+"/", "", func(_ string, raw []byte) bool {
		var a alias
		if decodeAlias(raw, &a) == nil {
			if _, weighted := a.Weights[version]; a.Version == version || weighted {
				names = append(names, a.Name)
			}
		}
		return true
	})
	return names
}
