package esm

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/md5"
	"crypto/sha1"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
)

// decryptPBES1 opens a PKCS#8 EncryptedPrivateKeyInfo encrypted with
// PKCS#5 v1.5 PBES1 (pbeWithMD5AndDES-CBC or pbeWithSHA1AndDES-CBC): AWS's
// guide says Lambda takes PBES1 keys, not PBES2, for
// CLIENT_CERTIFICATE_TLS_AUTH. Go's standard library reads neither; the
// PKCS#12 PBE variants (3DES, RC2) are not read either, and say so.
func decryptPBES1(der, password []byte) ([]byte, error) {
	var info struct {
		Algo struct {
			OID    asn1.ObjectIdentifier
			Params asn1.RawValue
		}
		Data []byte
	}
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) > 0 {
		return nil, errors.New("the encrypted private key is not PKCS#8")
	}
	var h func() hash.Hash
	switch {
	case info.Algo.OID.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 3}):
		h = md5.New
	case info.Algo.OID.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 10}):
		h = sha1.New
	case info.Algo.OID.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}):
		return nil, errors.New("the private key is encrypted with PBES2, which Lambda does not support (use PBES1)")
	default:
		return nil, fmt.Errorf("the private key is encrypted with %v, which lambdad cannot decrypt (it reads PBES1 MD5/SHA1 with DES)", info.Algo.OID)
	}
	var params struct {
		Salt       []byte
		Iterations int
	}
	if _, err := asn1.Unmarshal(info.Algo.Params.FullBytes, &params); err != nil || len(params.Salt) != 8 || params.Iterations < 1 || params.Iterations > 1<<24 {
		return nil, errors.New("the encrypted private key has bad PBES1 parameters")
	}
	// PKCS#5 PBKDF1: T = Hash^c(P || S); key and IV are T's two halves.
	d := h()
	d.Write(password)
	d.Write(params.Salt)
	t := d.Sum(nil)
	for i := 1; i < params.Iterations; i++ {
		d.Reset()
		d.Write(t)
		t = d.Sum(t[:0])
	}
	block, err := des.NewCipher(t[:8])
	if err != nil {
		return nil, err
	}
	if len(info.Data) == 0 || len(info.Data)%des.BlockSize != 0 {
		return nil, errors.New("the encrypted private key has a bad length")
	}
	out := make([]byte, len(info.Data))
	cipher.NewCBCDecrypter(block, t[8:16]).CryptBlocks(out, info.Data)
	pad := int(out[len(out)-1])
	if pad < 1 || pad > des.BlockSize {
		return nil, errors.New("wrong privateKeyPassword (or a damaged key)")
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, errors.New("wrong privateKeyPassword (or a damaged key)")
		}
	}
	return out[:len(out)-pad], nil
}
