// Command samtool answers build questions from template.yaml, so the Makefile, the
// SAM check and the local runner all read the same source of truth:
//
//	samtool package <LogicalId>        Go package of a function (Metadata.GoPackage)
//	samtool functions                  "<LogicalId> <package> present|missing" per function
//	samtool present-template <out>     template.yaml without the functions whose package
//	                                   directory does not exist (yet); lists them on stderr
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "samtool:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	tmplPath := os.Getenv("SAM_TEMPLATE")
	if tmplPath == "" {
		tmplPath = "template.yaml"
	}
	if len(args) == 0 {
		return errors.New("usage: samtool package <LogicalId> | functions | present-template <out>")
	}
	t, err := samtemplate.Load(tmplPath)
	if err != nil {
		return err
	}
	params, _, err := t.ParameterValues(nil)
	if err != nil {
		return err
	}
	fns, err := t.Functions(params)
	if err != nil {
		return err
	}
	switch args[0] {
	case "package":
		if len(args) != 2 {
			return errors.New("usage: samtool package <LogicalId>")
		}
		for _, f := range fns {
			if f.LogicalID == args[1] {
				if f.Package == "" {
					return fmt.Errorf("%s has no Metadata.GoPackage in %s", f.LogicalID, tmplPath)
				}
				fmt.Println(f.Package)
				return nil
			}
		}
		return fmt.Errorf("no function %q in %s", args[1], tmplPath)
	case "functions":
		for _, f := range fns {
			state := "present"
			if !exists(filepath.Join(t.Dir(), f.Package)) {
				state = "missing"
			}
			fmt.Println(f.LogicalID, f.Package, state)
		}
		return nil
	case "present-template":
		if len(args) != 2 {
			return errors.New("usage: samtool present-template <out>")
		}
		var missing []string
		for _, f := range fns {
			if !exists(filepath.Join(t.Dir(), f.Package)) {
				missing = append(missing, f.LogicalID)
			}
		}
		return writeWithout(tmplPath, args[1], missing)
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func exists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// writeWithout copies the template, dropping the given resources and keeping every
// tag (!Ref, !If…) intact, and removes outputs that reference nothing but them.
func writeWithout(in, out string, drop []string) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return err
	}
	root := doc.Content[0]
	set := map[string]bool{}
	for _, d := range drop {
		set[d] = true
		fmt.Fprintf(os.Stderr, "samtool: %s left out: its package directory does not exist yet\n", d)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "Resources" {
			continue
		}
		m := root.Content[i+1]
		var kept []*yaml.Node
		for j := 0; j+1 < len(m.Content); j += 2 {
			if !set[m.Content[j].Value] {
				kept = append(kept, m.Content[j], m.Content[j+1])
			}
		}
		m.Content = kept
	}
	b, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
