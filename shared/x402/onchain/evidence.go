package onchain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// Event topics of an EIP-3009 token (https://eips.ethereum.org/EIPS/eip-3009)
// and ERC-20 Transfer, computed from their signatures.
var (
	TopicTransfer              = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))
	TopicAuthorizationUsed     = crypto.Keccak256Hash([]byte("AuthorizationUsed(address,bytes32)"))
	TopicAuthorizationCanceled = crypto.Keccak256Hash([]byte("AuthorizationCanceled(address,bytes32)"))
	// TopicAuthorizationAlreadyUsed is USDG's (Paxos) event for a
	// transferWithAuthorization whose nonce was used: the call does not revert,
	// so a successful receipt alone proves nothing.
	TopicAuthorizationAlreadyUsed = crypto.Keccak256Hash([]byte("AuthorizationAlreadyUsed(address,bytes32)"))
)

// ChainReader is the part of *ethclient.Client the evidence checks need.
type ChainReader interface {
	Caller
	TransactionReceipt(ctx context.Context, tx common.Hash) (*types.Receipt, error)
	TransactionByHash(ctx context.Context, tx common.Hash) (*types.Transaction, bool, error)
	FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error)
	BlockNumber(ctx context.Context) (uint64, error)
}

// Payment is the transfer an authorization should have made.
type Payment struct {
	Token, From, To common.Address
	Value           *big.Int
	Nonce           common.Hash
}

// Verdicts of the evidence checks.
const (
	// Transferred: a successful transaction carries the token's Transfer(from →
	// to, value) or AuthorizationUsed(from, nonce) log.
	Transferred = "transferred"
	// NoTransfer: the transaction succeeded without such a log (USDG's
	// AuthorizationAlreadyUsed), or reverted.
	NoTransfer = "no_transfer"
	// Reverted: the transaction's receipt has status 0.
	Reverted = "reverted"
	// NotFound: the node does not know the transaction: never sent to it, or
	// dropped (a reorg took its block and the pool let it go).
	NotFound = "not_found"
	// Unmined: the node holds the transaction in its pool; no block has it yet.
	Unmined = "unmined"
	// Cancelled: AuthorizationCanceled(from, nonce) was emitted.
	Cancelled = "cancelled"
	// NoEvidence: no log mentions the authorization.
	NoEvidence = "no_evidence"
)

// ErrNotFound is go-ethereum's "not found" (a receipt the node does not have).
var ErrNotFound = ethereum.NotFound

// TxEvidence judges transaction tx for payment p by its receipt and logs.
func (r Reader) TxEvidence(ctx context.Context, tx common.Hash, p Payment) (string, error) {
	cr, ok := r.Caller.(ChainReader)
	if !ok {
		return "", errors.New("onchain: the RPC client cannot read receipts")
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	rc, err := cr.TransactionReceipt(ctx, tx)
	switch {
	case errors.Is(err, ethereum.NotFound):
		_, pending, terr := cr.TransactionByHash(ctx, tx)
		switch {
		case errors.Is(terr, ethereum.NotFound):
			return NotFound, nil
		case terr != nil:
			return "", fmt.Errorf("eth_getTransactionByHash: %w", terr)
		case pending:
			return Unmined, nil
		}
		// Mined between the two calls: judged on the next run.
		return Unmined, nil
	case err != nil:
		return "", fmt.Errorf("eth_getTransactionReceipt: %w", err)
	case rc.Status != types.ReceiptStatusSuccessful:
		return Reverted, nil
	}
	for _, l := range rc.Logs {
		if proves(l, p) {
			return Transferred, nil
		}
	}
	return NoTransfer, nil
}

// proves reports whether l, emitted by the token, is this payment's transfer or
// the use of its authorization.
func proves(l *types.Log, p Payment) bool {
	if l.Address != p.Token || l.Removed || len(l.Topics) == 0 {
		return false
	}
	switch l.Topics[0] {
	case TopicTransfer:
		return len(l.Topics) == 3 && common.BytesToAddress(l.Topics[1].Bytes()) == p.From &&
			common.BytesToAddress(l.Topics[2].Bytes()) == p.To && new(big.Int).SetBytes(l.Data).Cmp(p.Value) == 0
	case TopicAuthorizationUsed:
		return len(l.Topics) == 3 && common.BytesToAddress(l.Topics[1].Bytes()) == p.From && l.Topics[2] == p.Nonce
	}
	return false
}

// AuthorizationEvidence searches the token's logs of the last lookback blocks
// for the authorization (from, nonce): AuthorizationUsed → Transferred with its
// transaction, AuthorizationCanceled → Cancelled, nothing → NoEvidence.
func (r Reader) AuthorizationEvidence(ctx context.Context, p Payment, lookback uint64) (string, common.Hash, error) {
	cr, ok := r.Caller.(ChainReader)
	if !ok {
		return "", common.Hash{}, errors.New("onchain: the RPC client cannot read logs")
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	head, err := cr.BlockNumber(ctx)
	if err != nil {
		return "", common.Hash{}, fmt.Errorf("eth_blockNumber: %w", err)
	}
	from := uint64(0)
	if head > lookback {
		from = head - lookback
	}
	logs, err := cr.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from), ToBlock: new(big.Int).SetUint64(head),
		Addresses: []common.Address{p.Token},
		Topics: [][]common.Hash{{TopicAuthorizationUsed, TopicAuthorizationCanceled},
			{common.BytesToHash(p.From.Bytes())}, {p.Nonce}},
	})
	if err != nil {
		return "", common.Hash{}, fmt.Errorf("eth_getLogs: %w", err)
	}
	for _, l := range logs {
		if l.Removed || l.Address != p.Token || len(l.Topics) != 3 || common.BytesToAddress(l.Topics[1].Bytes()) != p.From || l.Topics[2] != p.Nonce {
			continue
		}
		switch l.Topics[0] {
		case TopicAuthorizationUsed:
			return Transferred, l.TxHash, nil
		case TopicAuthorizationCanceled:
			return Cancelled, l.TxHash, nil
		}
	}
	return NoEvidence, common.Hash{}, nil
}

// BalanceOf reads the ERC-20 balance of holder.
func (r Reader) BalanceOf(ctx context.Context, token, holder common.Address) (*big.Int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	vals, err := call(ctx, r.Caller, token, "balanceOf", holder)
	if err != nil {
		return nil, err
	}
	b, ok := vals[0].(*big.Int)
	if !ok {
		return nil, errors.New("balanceOf: not a uint256")
	}
	return b, nil
}

func (r Reader) timeout() time.Duration {
	if r.Timeout <= 0 {
		return 10 * time.Second
	}
	return r.Timeout
}
