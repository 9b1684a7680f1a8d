// Command samtool answers build questions from template.yaml, so the Makefile, the
// SAM check and the local runner all read the same source of truth:
//
//	samtool package <LogicalId>        Go package of a function (Metadata.GoPackage)
//	samtool functions                  "<LogicalId> <package>" per function
//
// A declared function whose package directory is missing is a template error: both
// commands fail naming it, so a build never silently leaves a function out.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/insforge/edge-functions-go/scripts/internal/cli"
	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
)

func main() {
	cli.Main("samtool", func(context.Context) error { return run(os.Args[1:]) })
}

func run(args []string) error {
	tmplPath := os.Getenv("SAM_TEMPLATE")
	if tmplPath == "" {
		tmplPath = "template.yaml"
	}
	if len(args) == 0 {
		return errors.New("usage: samtool package <LogicalId> | functions")
	}
	t, fns, err := samtemplate.LoadFunctions(tmplPath)
	if err != nil {
		return err
	}
	for _, f := range fns {
		if f.Package == "" {
			return fmt.Errorf("%s: %s has no Metadata.GoPackage", tmplPath, f.LogicalID)
		}
		if !exists(filepath.Join(t.Dir(), f.Package)) {
			return fmt.Errorf("%s: %s: Metadata.GoPackage %s does not exist", tmplPath, f.LogicalID, f.Package)
		}
	}
	switch args[0] {
	case "package":
		if len(args) != 2 {
			return errors.New("usage: samtool package <LogicalId>")
		}
		for _, f := range fns {
			if f.LogicalID == args[1] {
				fmt.Println(f.Package)
				return nil
			}
		}
		return fmt.Errorf("no function %q in %s", args[1], tmplPath)
	case "functions":
		for _, f := range fns {
			fmt.Println(f.LogicalID, f.Package)
		}
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func exists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
