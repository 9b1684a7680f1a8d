package x402

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// The type list is pinned to EIP-3009's published type hash
// (https://eips.ethereum.org/EIPS/eip-3009, TRANSFER_WITH_AUTHORIZATION_TYPEHASH):
// swapping or renaming a field changes it.
func TestTransferWithAuthorizationTypeHashIsEIP3009s(t *testing.T) {
	td := apitypes.TypedData{Types: transferTypes}
	if got, want := td.Dependencies("TransferWithAuthorization", nil), []string{"TransferWithAuthorization"}; len(got) != 1 || got[0] != want[0] {
		t.Fatalf("dependencies %v", got)
	}
	const encoded = "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
	if got := string(td.EncodeType("TransferWithAuthorization")); got != encoded {
		t.Fatalf("encodeType = %s", got)
	}
	want := common.HexToHash("0x7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267")
	if got := common.BytesToHash(td.TypeHash("TransferWithAuthorization")); got != want {
		t.Fatalf("type hash = %s, want %s", got.Hex(), want.Hex())
	}
}
