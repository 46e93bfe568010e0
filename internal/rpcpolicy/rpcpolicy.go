// Package rpcpolicy is the method policy that grpcauth and connectauth
// share: which procedures ("/package.Service/Method") are public, which
// checks each one needs, how a call is decided, and the status code each
// refusal is answered with. gRPC and Connect name procedures alike and
// number their codes alike, so one policy serves both.
package rpcpolicy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/clerkauth/clerkauth"
)

// Domain is the ErrorInfo domain of a refusal's details.
const Domain = "clerkauth"

// ReasonMetadata is the metadata key (a trailer in gRPC) that carries the
// reason code of a refusal, as X-Clerk-Auth-Reason does over HTTP.
const ReasonMetadata = "x-clerk-auth-reason"

// Status codes, with the numbers gRPC and Connect share
// (google.golang.org/grpc/codes, connect.Code).
const (
	CodePermissionDenied = 7
	CodeUnavailable      = 14
	CodeUnauthenticated  = 16
)

// Code is the status code a refusal is answered with, from the HTTP
// status Middleware would send (clerkauth.Error.Status): 403 is
// PermissionDenied, 503 Unavailable (the client may retry), and anything
// else Unauthenticated.
func Code(err *clerkauth.Error) uint32 {
	switch err.Status() {
	case 403:
		return CodePermissionDenied
	case 503:
		return CodeUnavailable
	}
	return CodeUnauthenticated
}

// Rule is one option of an integration: Public patterns, or a Require
// pattern with its checks.
type Rule struct {
	Public   bool
	Patterns []string
	Checks   []clerkauth.Check
}

// Option is an integration's option (grpcauth.Option, connectauth.Option
// are this type): one Rule.
type Option struct{ rule Rule }

// Public is the integrations' Public option.
func Public(patterns ...string) Option {
	return Option{Rule{Public: true, Patterns: patterns}}
}

// Require is the integrations' Require option.
func Require(pattern string, checks ...clerkauth.Check) Option {
	return Option{Rule{Patterns: []string{pattern}, Checks: checks}}
}

// MustNew compiles the options for auth, or panics with New's error: an
// invalid option is a programming error best found at start-up.
func MustNew(pkg string, auth *clerkauth.Auth, opts []Option) *Policy {
	rules := make([]Rule, len(opts))
	for i, o := range opts {
		rules[i] = o.rule
	}
	p, err := New(pkg, auth, rules)
	if err != nil {
		panic(err.Error())
	}
	return p
}

// Policy decides calls: compiled once from the rules, read only after.
type Policy struct {
	auth     *clerkauth.Auth
	public   []pattern
	requires []requirement
}

type requirement struct {
	pattern
	checks []clerkauth.Check
}

// pattern is a compiled procedure pattern: the whole name, or a prefix
// (a service's "/pkg.Service/", a package's "/pkg.", or "/" for all).
type pattern struct {
	s      string
	prefix bool
}

func (p pattern) match(procedure string) bool {
	if p.prefix {
		return strings.HasPrefix(procedure, p.s)
	}
	return procedure == p.s
}

// New compiles rules for auth. pkg ("grpcauth") begins every error, each
// of which names the option and tells the fix.
func New(pkg string, auth *clerkauth.Auth, rules []Rule) (*Policy, error) {
	if auth == nil {
		return nil, fmt.Errorf("%s: auth is nil; pass the *clerkauth.Auth that clerkauth.New returned", pkg)
	}
	p := &Policy{auth: auth}
	for _, r := range rules {
		option := "Require"
		if r.Public {
			option = "Public"
			if len(r.Patterns) == 0 {
				return nil, fmt.Errorf("%s: Public() names no method; give it patterns such as %q", pkg, "/grpc.health.v1.Health/*")
			}
		}
		for _, c := range r.Checks {
			if c.Allow == nil {
				return nil, fmt.Errorf("%s: Require(%q): a Check has a nil Allow function; build checks with clerkauth.Role, Permission, Scope, …", pkg, r.Patterns[0])
			}
		}
		for _, s := range r.Patterns {
			pat, err := compile(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %s(%q): %s; a pattern is a full method name (%q), a service (%q), a package (%q) or every method (%q)",
					pkg, option, s, err, "/package.Service/Method", "/package.Service/*", "/package.*", "/*")
			}
			if r.Public {
				p.public = append(p.public, pat)
			} else {
				p.requires = append(p.requires, requirement{pat, r.Checks})
			}
		}
	}
	return p, nil
}

// compile checks a pattern against the grammar of procedure names: a
// leading slash, a dotted service name, a slash, a method name; a "*" only
// at the end, after "/" (every method of a service, or every method) or
// "." (every service of a package).
func compile(s string) (pattern, error) {
	rest, ok := strings.CutPrefix(s, "/")
	if !ok {
		return pattern{}, fmt.Errorf(`it must begin with "/" (write "/%s")`, s)
	}
	if rest == "*" {
		return pattern{s: "/", prefix: true}, nil
	}
	if i := strings.IndexByte(rest, '*'); i >= 0 && (i != len(rest)-1 || i == 0 || rest[i-1] != '/' && rest[i-1] != '.') {
		return pattern{}, errors.New(`"*" may only end a pattern, after "/" or "."`)
	}
	if pkg, ok := strings.CutSuffix(rest, ".*"); ok {
		if strings.Contains(pkg, "/") || !dottedName(pkg) {
			return pattern{}, fmt.Errorf("%q is not a package name", pkg)
		}
		return pattern{s: "/" + pkg + ".", prefix: true}, nil
	}
	service, method, ok := strings.Cut(rest, "/")
	switch {
	case !ok:
		return pattern{}, errors.New(`it names no method (add "/Method", or "/*" for every method of the service)`)
	case !dottedName(service):
		return pattern{}, fmt.Errorf("%q is not a service name", service)
	case method == "*":
		return pattern{s: "/" + service + "/", prefix: true}, nil
	case !identifier(method):
		return pattern{}, fmt.Errorf("%q is not a method name", method)
	}
	return pattern{s: s}, nil
}

// dottedName: identifiers joined by dots ("grpc.health.v1.Health").
func dottedName(s string) bool {
	for part := range strings.SplitSeq(s, ".") {
		if !identifier(part) {
			return false
		}
	}
	return true
}

// identifier is a protobuf identifier: a letter or "_", then letters,
// digits and "_".
func identifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Authorize decides a call to procedure whose Authorization values are
// authorization. On a protected procedure (every one that no Public
// pattern names, and every one that a Require pattern names) the
// credential must verify and pass the checks of every matching Require;
// the returned context carries the identity. On a public procedure a
// credential is verified too, so the handler sees who calls, but a bad
// one is no refusal: the call goes on without an identity.
func (p *Policy) Authorize(ctx context.Context, procedure string, authorization []string) (context.Context, *clerkauth.Error) {
	required := false
	for _, r := range p.requires {
		if r.match(procedure) {
			required = true
			break
		}
	}
	if !required && p.isPublic(procedure) {
		if len(authorization) == 0 {
			return ctx, nil
		}
		if id, err := p.auth.VerifyAuthorization(ctx, authorization); err == nil {
			return clerkauth.ContextWithIdentity(ctx, id), nil
		}
		return ctx, nil
	}
	id, err := p.auth.VerifyAuthorization(ctx, authorization)
	if err != nil {
		return ctx, asError(err)
	}
	for _, r := range p.requires {
		if !r.match(procedure) {
			continue
		}
		if err := id.Authorize(r.checks...); err != nil {
			return ctx, asError(err)
		}
	}
	return clerkauth.ContextWithIdentity(ctx, id), nil
}

func (p *Policy) isPublic(procedure string) bool {
	for _, pat := range p.public {
		if pat.match(procedure) {
			return true
		}
	}
	return false
}

// asError: clerkauth's entry points return *clerkauth.Error; anything
// else would be a bug, refused as an invalid token (fail closed).
func asError(err error) *clerkauth.Error {
	if e, ok := err.(*clerkauth.Error); ok {
		return e
	}
	return &clerkauth.Error{Reason: clerkauth.ReasonTokenInvalid}
}
