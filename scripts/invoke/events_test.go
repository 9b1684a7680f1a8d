package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
	"github.com/insforge/edge-functions-go/scripts/runner/apigateway"
)

// Every sample event is valid JSON in the shape its trigger produces, HTTP events
// name a route of template.yaml, and every function has sample events.
func TestSampleEventsMatchTheTemplate(t *testing.T) {
	tm, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	vals, _, _ := tm.ParameterValues(nil)
	fns, err := tm.Functions(vals)
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]string{} // path → function
	covered := map[string]int{}
	var all []apigateway.Route
	for _, f := range fns {
		for _, r := range f.Routes {
			routes[r.Path] = f.LogicalID
			all = append(all, apigateway.Route{Method: r.Method, Path: r.Path, Function: f.LogicalID})
		}
	}
	router := apigateway.NewRouter(all)
	files, _ := filepath.Glob("../../events/*.json")
	if len(files) == 0 {
		t.Fatal("no sample events")
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var probe map[string]any
		if err := json.Unmarshal(raw, &probe); err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if probe["source"] == "aws.events" {
			if probe["detail-type"] != "Scheduled Event" {
				t.Errorf("%s: not a scheduled event", file)
			}
			for _, f := range fns {
				if len(f.Schedules) > 0 && strings.Contains(file, strings.TrimPrefix(f.Package, "./functions/")) {
					covered[f.LogicalID]++
				}
			}
			continue
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		fn, ok := routes[ev.RawPath]
		routeKey := "ANY " + ev.RawPath
		// A greedy route ({proxy+}) names its pattern in routeKey, as API Gateway does.
		if m, found := router.Find(ev.RequestContext.HTTP.Method, ev.RawPath); !ok && found && strings.Contains(m.Path, "{") {
			fn, ok, routeKey = m.Function, true, m.RouteKey
		}
		switch {
		case ev.Version != "2.0":
			t.Errorf("%s: version %q, want 2.0", file, ev.Version)
		case !ok:
			t.Errorf("%s: rawPath %q is not a route in template.yaml", file, ev.RawPath)
		case ev.RouteKey != routeKey || ev.RequestContext.RouteKey != routeKey || ev.RequestContext.HTTP.Path != ev.RawPath || ev.RequestContext.HTTP.Method == "":
			t.Errorf("%s: routeKey/requestContext inconsistent with rawPath", file)
		}
		for k := range ev.Headers {
			if k != strings.ToLower(k) {
				t.Errorf("%s: header %q is not lower-case", file, k)
			}
		}
		covered[fn]++
	}
	for _, f := range fns {
		if covered[f.LogicalID] == 0 {
			t.Errorf("%s has no sample event", f.LogicalID)
		}
	}
}
