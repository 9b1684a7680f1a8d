package config

// Fill exposes the filler to the external tests that compare it with envconfig.
func Fill(spec any, lookup func(string) (string, bool)) error { return fill(spec, lookup) }
