package apigateway

import (
	"sort"
	"strings"
)

// Route binds an HTTP API route to a function.
type Route struct {
	Method   string // "ANY" or an upper-case method
	Path     string // /token/workos, /items/{id}, /files/{proxy+}
	Function string // logical id
}

// Match is a matched route.
type Match struct {
	Route
	RouteKey string
	Params   map[string]string
}

// Router selects routes the way API Gateway HTTP API does: the most specific
// path wins (literal segments before {param}, {param} before {proxy+}), and an
// exact method before ANY.
type Router struct{ routes []Route }

// NewRouter sorts routes by specificity.
func NewRouter(routes []Route) *Router {
	rs := append([]Route(nil), routes...)
	sort.SliceStable(rs, func(i, j int) bool {
		si, sj := specificity(rs[i].Path), specificity(rs[j].Path)
		if si != sj {
			return si > sj
		}
		return rs[i].Method != "ANY" && rs[j].Method == "ANY"
	})
	return &Router{routes: rs}
}

// Routes lists the routes, most specific first.
func (r *Router) Routes() []Route { return r.routes }

// Find returns the route for method and path; ok is false when none matches.
func (r *Router) Find(method, path string) (Match, bool) {
	segs := split(pathUnescape(path))
	for _, rt := range r.routes {
		if rt.Method != "ANY" && rt.Method != method {
			continue
		}
		if params, ok := matchPath(split(rt.Path), segs); ok {
			return Match{Route: rt, RouteKey: rt.Method + " " + rt.Path, Params: params}, true
		}
	}
	return Match{}, false
}

func split(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func matchPath(pattern, segs []string) (map[string]string, bool) {
	var params map[string]string
	set := func(k, v string) {
		if params == nil {
			params = map[string]string{}
		}
		params[k] = v
	}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}") {
			if i >= len(segs) {
				return nil, false
			}
			set(strings.TrimSuffix(strings.TrimPrefix(p, "{"), "+}"), strings.Join(segs[i:], "/"))
			return params, true
		}
		if i >= len(segs) {
			return nil, false
		}
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			set(strings.Trim(p, "{}"), segs[i])
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, len(pattern) == len(segs)
}

func specificity(path string) int {
	n := 0
	for _, s := range split(path) {
		switch {
		case strings.HasSuffix(s, "+}"):
			n += 1
		case strings.HasPrefix(s, "{"):
			n += 10
		default:
			n += 100
		}
	}
	return n
}
