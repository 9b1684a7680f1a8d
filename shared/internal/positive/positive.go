// Package positive fills option defaults: in every Options struct of the module
// a count, a size, a rate or a duration that is zero or negative means "not
// set", so a negative value never becomes a limit of its own.
package positive

// Number is what such an option can be (time.Duration included).
type Number interface {
	~int | ~int64 | ~float64
}

// Or returns v when it is greater than zero, def otherwise: cmp.Or for options,
// where a negative value is as unset as zero.
func Or[T Number](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
