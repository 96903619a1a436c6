package policy

import "strings"

// ContextKeys returns the context keys the document refers to, as IAM's
// GetContextKeysFor*Policy list them: statement by statement, the policy
// variables of its Resource or NotResource, then the keys of its
// conditions and the variables in their values. Each key appears once, in
// the spelling of its first use (keys compare case-insensitively).
// Variables count only where they are interpreted (Version 2012-10-17).
func (d *Document) ContextKeys() []string {
	var keys []string
	add := func(k string) {
		for _, have := range keys {
			if strings.EqualFold(have, k) {
				return
			}
		}
		keys = append(keys, k)
	}
	vars := d.Variables()
	addVars := func(values []string) {
		if !vars {
			return
		}
		for _, v := range values {
			for _, k := range variableKeys(v) {
				add(k)
			}
		}
	}
	for i := range d.Statements {
		st := &d.Statements[i]
		addVars(st.Resource)
		addVars(st.NotResource)
		for _, c := range st.Conditions {
			add(c.Key)
			addVars(c.Values)
		}
	}
	return keys
}

// ContextKeysOf returns the context keys referred to by several documents,
// each once, in order of first use.
func ContextKeysOf(docs ...*Document) []string {
	var keys []string
	for _, d := range docs {
		if d == nil {
			continue
		}
	next:
		for _, k := range d.ContextKeys() {
			for _, have := range keys {
				if strings.EqualFold(have, k) {
					continue next
				}
			}
			keys = append(keys, k)
		}
	}
	return keys
}

// variableKeys returns the keys of the policy variables in s: ${key} and
// ${key, 'default'}, but not the escapes ${*}, ${?} and ${$}.
func variableKeys(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return out
		}
		body := s[i+2 : i+2+end]
		s = s[i+2+end+1:]
		switch strings.TrimSpace(body) {
		case "*", "?", "$", "":
			continue
		}
		name, _, _ := parseVarBody(body)
		if name != "" {
			out = append(out, name)
		}
	}
}
