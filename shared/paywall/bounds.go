package paywall

// ShareBoundsWith makes p use other's abuse bounds — the per-payer and per-IP
// buckets, the in-flight cap on facilitator calls and the balance cache —
// instead of its own. Several paywalls in one function (a gateway's priced
// routes) are then one budget to an abuser rather than one budget per route.
// Call it while wiring, before p serves.
func (p *Paywall) ShareBoundsWith(other *Paywall) {
	p.payers, p.ips, p.upstream, p.balances = other.payers, other.ips, other.upstream, other.balances
}
