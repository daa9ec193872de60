package esm

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/md5"
	"crypto/sha1"
	"encoding/asn1"
	"errors"
	"fmt"
)

// decryptPBES1 opens a PKCS#8 EncryptedPrivateKeyInfo encrypted with
// password-based encryption of the PBES1 kind: PKCS#5 v1.5
// (pbeWithMD5AndDES-CBC, pbeWithSHA1AndDES-CBC) and PKCS#12
// (pbeWithSHAAnd3-KeyTripleDES-CBC, ...2-Key...). AWS's guide says Lambda
// takes PBES1 keys, not PBES2, for CLIENT_CERTIFICATE_TLS_AUTH; Go's
// standard library reads none of them. The RC2 and RC4 variants are not
// read (no cipher in the standard library), and say so.
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
	var params struct {
		Salt       []byte
		Iterations int
	}
	if _, err := asn1.Unmarshal(info.Algo.Params.FullBytes, &params); err != nil || len(params.Salt) == 0 || params.Iterations < 1 || params.Iterations > 1<<24 {
		params.Iterations = 0
	}
	var (
		block cipher.Block
		iv    []byte
		err   error
	)
	switch oid := info.Algo.OID; {
	case oid.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 3}), oid.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 10}):
		if params.Iterations == 0 || len(params.Salt) != 8 {
			return nil, errors.New("the encrypted private key has bad PBES1 parameters")
		}
		// PKCS#5 PBKDF1: T = Hash^c(P || S); key and IV are T's halves.
		h := md5.New
		if oid[len(oid)-1] == 10 {
			h = sha1.New
		}
		d := h()
		d.Write(password)
		d.Write(params.Salt)
		t := d.Sum(nil)
		for i := 1; i < params.Iterations; i++ {
			d.Reset()
			d.Write(t)
			t = d.Sum(t[:0])
		}
		block, err = des.NewCipher(t[:8])
		iv = t[8:16]
	case oid.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}), oid.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 4}):
		// PKCS#12 PBE with SHA-1 and three- or two-key triple DES.
		if params.Iterations == 0 {
			return nil, errors.New("the encrypted private key has bad PBE parameters")
		}
		key := pkcs12KDF(password, params.Salt, params.Iterations, 1, 24)
		if oid[len(oid)-1] == 4 {
			copy(key[16:], key[:8]) // two keys: K3 = K1
		}
		block, err = des.NewTripleDESCipher(key)
		iv = pkcs12KDF(password, params.Salt, params.Iterations, 2, 8)
	case oid.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}):
		return nil, errors.New("the private key is encrypted with PBES2, which Lambda does not support (use PBES1)")
	default:
		return nil, fmt.Errorf("the private key is encrypted with %v, which lambdad cannot decrypt (it reads PBES1 MD5/SHA-1 with DES and PKCS#12 SHA-1 with triple DES)", info.Algo.OID)
	}
	if err != nil {
		return nil, err
	}
	if len(info.Data) == 0 || len(info.Data)%des.BlockSize != 0 {
		return nil, errors.New("the encrypted private key has a bad length")
	}
	out := make([]byte, len(info.Data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, info.Data)
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

// pkcs12KDF derives n bytes of purpose id (1 key, 2 IV) from a password,
// as RFC 7292 appendix B.2 says, with SHA-1 (u = 20, v = 64).
func pkcs12KDF(password, salt []byte, iterations int, id byte, n int) []byte {
	const u, v = 20, 64
	// The password as a BMPString with its two-byte terminator.
	var bmp []byte
	for _, r := range string(password) {
		if r > 0xFFFF {
			r = 0xFFFD
		}
		bmp = append(bmp, byte(r>>8), byte(r))
	}
	bmp = append(bmp, 0, 0)
	fill := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		out := make([]byte, v*((len(b)+v-1)/v))
		for i := range out {
			out[i] = b[i%len(b)]
		}
		return out
	}
	I := append(fill(salt), fill(bmp)...)
	D := make([]byte, v)
	for i := range D {
		D[i] = id
	}
	var out []byte
	for len(out) < n {
		h := sha1.New()
		h.Write(D)
		h.Write(I)
		a := h.Sum(nil)
		for i := 1; i < iterations; i++ {
			h.Reset()
			h.Write(a)
			a = h.Sum(a[:0])
		}
		out = append(out, a...)
		if len(out) >= n {
			break
		}
		// I_j = (I_j + B + 1) mod 2^(8v), B being a repeated to v bytes.
		B := make([]byte, v)
		for i := range B {
			B[i] = a[i%u]
		}
		for j := 0; j < len(I); j += v {
			carry := 1
			for k := v - 1; k >= 0; k-- {
				sum := int(I[j+k]) + int(B[k]) + carry
				I[j+k] = byte(sum)
				carry = sum >> 8
			}
		}
	}
	return out[:n]
}
