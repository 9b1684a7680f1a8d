package main

import (
	"strings"
	"testing"
)

func TestReplaceSectionReplacesOnlyBetweenTheMarkers(t *testing.T) {
	section := Begin + "\nnew\n" + End + "\n"
	cases := []struct{ name, doc, want string }{
		{"appended when absent", "# Benchmarks\n\ntext\n", "# Benchmarks\n\ntext\n\n" + section},
		{"replaced in place", "head\n" + Begin + "\nold\n" + End + "\ntail\n", "head\n" + section + "tail\n"},
		{"replaced at the very end", "head\n" + Begin + "\nold\n" + End, "head\n" + section},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ReplaceSection(c.doc, section); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestCountingLogsStripsTheRunnerPrefix(t *testing.T) {
	var c countingLogs
	_, _ = c.Write([]byte("[TokenClerkFunction] {\"msg\":\"token minted\"}\n"))
	_, _ = c.Write([]byte("[X402ReportFunction] {}\n[TokenClerkFunction] {}\n"))
	c.reset("X402ReportFunction")
	b, l := c.get("TokenClerkFunction")
	if want := len("{\"msg\":\"token minted\"}\n") + len("{}\n"); b != want || l != 2 {
		t.Fatalf("clerk: %d bytes in %d lines, want %d in 2", b, l, want)
	}
	if b, l := c.get("X402ReportFunction"); b != 0 || l != 0 {
		t.Fatalf("reset left %d bytes, %d lines", b, l)
	}
	if strings.Contains(Begin, "\n") {
		t.Fatal("the begin marker must be one line")
	}
}
