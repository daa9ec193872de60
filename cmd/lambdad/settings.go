package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Typed flag values check their input in Set, so a flag and its LAMBDAD_*
// variable are refused by the same rule: a bad value stops lambdad at start
// instead of silently becoming the default.

// intValue is an integer in [min, max].
type intValue struct {
	p        *int
	min, max int
}

func (v intValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errors.New("not an integer")
	}
	if n < v.min || n > v.max {
		return fmt.Errorf("out of range [%d, %d]", v.min, v.max)
	}
	*v.p = n
	return nil
}

// durationValue is a time.Duration of at least min.
type durationValue struct {
	p   *time.Duration
	min time.Duration
}

func (v durationValue) String() string {
	if v.p == nil {
		return ""
	}
	return v.p.String()
}

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return errors.New("not a duration such as 500ms, 30s or 10m")
	}
	if d < v.min {
		if v.min == 0 {
			return errors.New("negative")
		}
		return fmt.Errorf("less than %s", v.min)
	}
	*v.p = d
	return nil
}

// enumValue is one of a fixed set of words.
type enumValue struct {
	p     *string
	words []string
}

func (v enumValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v enumValue) Set(s string) error {
	for _, w := range v.words {
		if s == w {
			*v.p = s
			return nil
		}
	}
	return fmt.Errorf("not one of %s", strings.Join(v.words, ", "))
}

// levelValue is a slog level by name (debug, info, warn, error).
type levelValue struct{ p *slog.Level }

func (v levelValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.ToLower(v.p.String())
}

func (v levelValue) Set(s string) error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(s)); err != nil {
		return errors.New("not a log level (debug, info, warn or error)")
	}
	*v.p = lv
	return nil
}

func intVar(fl *flag.FlagSet, p *int, name string, def, min, max int, usage string) {
	*p = def
	fl.Var(intValue{p, min, max}, name, usage)
}

func durationVar(fl *flag.FlagSet, p *time.Duration, name string, def, min time.Duration, usage string) {
	*p = def
	fl.Var(durationValue{p, min}, name, usage)
}

func enumVar(fl *flag.FlagSet, p *string, name, def string, words []string, usage string) {
	*p = def
	fl.Var(enumValue{p, words}, name, usage)
}

// envName is the variable that sets flag name: --body-memory-mb is
// LAMBDAD_BODY_MEMORY_MB.
func envName(flagName string) string {
	return "LAMBDAD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyEnv sets every flag whose LAMBDAD_* variable is present, through the
// flag's own Set, so the variable is held to the flag's rules. Flags parsed
// afterwards win over the environment.
func applyEnv(fl *flag.FlagSet, lookup func(string) (string, bool)) error {
	var err error
	fl.VisitAll(func(f *flag.Flag) {
		if err != nil {
			return
		}
		name := envName(f.Name)
		v, ok := lookup(name)
		if !ok {
			return
		}
		if e := f.Value.Set(v); e != nil {
			if _, secret := f.Value.(credentialsValue); secret {
				err = fmt.Errorf("invalid value for %s: %v", name, e)
				return
			}
			err = fmt.Errorf("invalid value %q for %s: %v", v, name, e)
		}
	})
	return err
}

// maxBodyMB keeps the byte count, MB<<20, within an int64.
const maxBodyMB = math.MaxInt64 >> 20

// credentialsValue is KEY:SECRET[,KEY:SECRET...]; empty means none.
type credentialsValue struct{ p *map[string]string }

func (v credentialsValue) String() string { return "" } // never print secrets

func (v credentialsValue) Set(s string) error {
	if s == "" {
		*v.p = nil
		return nil
	}
	m := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		key, secret, ok := strings.Cut(strings.TrimSpace(pair), ":")
		if !ok || key == "" || secret == "" {
			// Only the key is named: the pair may hold a secret.
			return fmt.Errorf("the entry with key %q is not ACCESS_KEY:SECRET", key)
		}
		m[key] = secret
	}
	*v.p = m
	return nil
}

// listValue is ITEM[,ITEM...] with no empty item; empty means none.
type listValue struct{ p *[]string }

func (v listValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

func (v listValue) Set(s string) error {
	if strings.TrimSpace(s) == "" {
		*v.p = nil
		return nil
	}
	var items []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return errors.New("an empty item in the list")
		}
		items = append(items, item)
	}
	*v.p = items
	return nil
}

// organizationsValue is ACCOUNT:ORG[,ACCOUNT:ORG...]: which AWS Organizations
// id each account belongs to, for layer grants to an organization.
type organizationsValue struct{ p *map[string]string }

var (
	orgAccount = regexp.MustCompile(`^\d{12}$`)
	orgID      = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
)

func (v organizationsValue) String() string {
	if v.p == nil {
		return ""
	}
	var parts []string
	for acct, org := range *v.p {
		parts = append(parts, acct+":"+org)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func (v organizationsValue) Set(s string) error {
	if s == "" {
		*v.p = nil
		return nil
	}
	m := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		acct, org, _ := strings.Cut(strings.TrimSpace(pair), ":")
		if !orgAccount.MatchString(acct) || !orgID.MatchString(org) {
			return fmt.Errorf("%q is not ACCOUNT:ORG (a 12-digit account and an id o-[a-z0-9]{10,32})", pair)
		}
		m[acct] = org
	}
	*v.p = m
	return nil
}

// accountValue is a 12-digit AWS account id.
type accountValue struct{ p *string }

func (v accountValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v accountValue) Set(s string) error {
	s = strings.TrimSpace(s)
	if !orgAccount.MatchString(s) {
		return errors.New("not a 12-digit account id")
	}
	*v.p = s
	return nil
}

// urlHostValue is localhost, path, or a DNS domain.
type urlHostValue struct{ p *string }

var domainName = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func (v urlHostValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v urlHostValue) Set(s string) error {
	s = strings.ToLower(strings.TrimSpace(s))
	if s != "path" && (len(s) > 200 || !domainName.MatchString(s)) {
		return errors.New("not localhost, path or a domain name")
	}
	*v.p = s
	return nil
}

func urlHostVar(fl *flag.FlagSet, p *string, name, usage string) {
	*p = "localhost"
	fl.Var(urlHostValue{p}, name, usage)
}

// mskBrokersValue is CLUSTER_ARN=HOST:PORT[,HOST:PORT...][;...]: the
// brokers of Amazon MSK clusters, by cluster ARN.
type mskBrokersValue struct{ p *map[string][]string }

var mskClusterARN = regexp.MustCompile(`^arn:aws[a-z-]*:kafka:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:cluster/[^/]+(/[^/]+)?$`)

func (v mskBrokersValue) String() string {
	if v.p == nil {
		return ""
	}
	var parts []string
	for arn, b := range *v.p {
		parts = append(parts, arn+"="+strings.Join(b, ","))
	}
	slices.Sort(parts)
	return strings.Join(parts, ";")
}

func (v mskBrokersValue) Set(s string) error {
	if strings.TrimSpace(s) == "" {
		*v.p = nil
		return nil
	}
	m := map[string][]string{}
	for _, entry := range strings.Split(s, ";") {
		arn, list, ok := strings.Cut(strings.TrimSpace(entry), "=")
		if !ok || !mskClusterARN.MatchString(arn) {
			return fmt.Errorf("%q is not CLUSTER_ARN=HOST:PORT[,HOST:PORT...] with an MSK cluster ARN (arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID, or moto's cluster/UUID)", entry)
		}
		if _, dup := m[arn]; dup {
			return fmt.Errorf("cluster %s is named twice", arn)
		}
		var brokers []string
		for _, b := range strings.Split(list, ",") {
			b = strings.TrimSpace(b)
			host, port, err := net.SplitHostPort(b)
			if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
				return fmt.Errorf("broker %q of cluster %s is not HOST:PORT", b, arn)
			}
			brokers = append(brokers, b)
		}
		m[arn] = brokers
	}
	*v.p = m
	return nil
}
