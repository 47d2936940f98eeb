package rules

import (
	"net"
	"net/mail"
	"net/url"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/google/uuid"
)

// formatFunctions are the string checks Confluent's CEL executor offers
// (isEmail, isHostname, isIpv4, isIpv6, isUri, isUriRef, isUuid), so that
// its rules compile here too. Each is a member function on string
// returning bool.
func formatFunctions() []cel.EnvOption {
	check := func(name string, f func(string) bool) cel.EnvOption {
		return cel.Function(name, cel.MemberOverload("string_"+name+"_bool",
			[]*cel.Type{cel.StringType}, cel.BoolType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				s, ok := v.(types.String)
				if !ok {
					return types.MaybeNoSuchOverloadErr(v)
				}
				return types.Bool(f(string(s)))
			})))
	}
	return []cel.EnvOption{
		check("isEmail", isEmail),
		check("isHostname", isHostname),
		check("isIpv4", func(s string) bool { ip := net.ParseIP(s); return ip != nil && ip.To4() != nil }),
		check("isIpv6", func(s string) bool { ip := net.ParseIP(s); return ip != nil && ip.To4() == nil }),
		check("isUri", func(s string) bool { u, err := url.Parse(s); return err == nil && u.IsAbs() }),
		check("isUriRef", func(s string) bool { _, err := url.Parse(s); return err == nil }),
		check("isUuid", func(s string) bool { _, err := uuid.Parse(s); return err == nil }),
	}
}

// isEmail accepts a bare address (no display name, no angle brackets)
// whose local part has at most 64 bytes, at most 254 in all, and whose
// domain is a host name.
func isEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, "<>") {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at <= 64 && isHostname(s[at+1:])
}

// isHostname accepts an RFC 1123 host name: dot-separated labels of 1 to
// 63 letters, digits and inner hyphens, 253 bytes at most, a trailing dot
// allowed, the last label not all digits.
func isHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	digitsOnly := false
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		digitsOnly = true
		for i := 0; i < len(label); i++ {
			c := label[i] | 0x20 // lower case for letters
			isDigit := label[i] >= '0' && label[i] <= '9'
			if !isDigit && !(c >= 'a' && c <= 'z') && label[i] != '-' {
				return false
			}
			digitsOnly = digitsOnly && isDigit
		}
	}
	return !digitsOnly
}
