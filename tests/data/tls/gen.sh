#!/bin/sh
# Regenerates the test PKI used by tests/unit/test_tls.c (see README). Needs the openssl CLI
# (OpenSSL 3). The outputs are checked in; the tests never run this script.
#
# `openssl ca` is used instead of `openssl x509 -req` because it can back-date notBefore
# (2020-01-01), so the certificates are valid on a machine whose clock lags the one that made
# them. notAfter is 2120-01-01.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=20200101000000Z
end=21200101000000Z

mkca() { # dir
    mkdir -p "$1"
    : >"$1/index.txt"
    echo 1000 >"$1/serial"
    cat >"$1/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
dir = $1
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
organizationName = optional
commonName = supplied
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
}

selfsign() { # dir keyfile subject out
    openssl req -new -key "$2" -subj "$3" -out "$1/self.csr"
    openssl ca -batch -config "$1/ca.cnf" -selfsign -keyfile "$2" -in "$1/self.csr" \
        -startdate $start -enddate $end -extensions v3_ca -notext -out "$4" 2>/dev/null
}

sign() { # dir cakey cacert keyfile out
    openssl req -new -key "$4" -subj "/O=xroute test/CN=localhost" -out "$1/leaf.csr"
    openssl ca -batch -config "$1/ca.cnf" -keyfile "$2" -cert "$3" -in "$1/leaf.csr" \
        -startdate $start -enddate $end -extensions v3_leaf -notext -out "$5" 2>/dev/null
}

# The test CA (RSA 2048) that the client trusts. Its key is not kept.
mkca "$tmp/ca"
openssl genrsa -out "$tmp/ca.key" 2048 2>/dev/null
selfsign "$tmp/ca" "$tmp/ca.key" "/O=xroute test/CN=xroute test CA" ca.pem

# An unrelated CA (EC P-256) that signs nothing the servers present ("untrusted CA" tests).
mkca "$tmp/other"
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/other.key"
selfsign "$tmp/other" "$tmp/other.key" "/O=xroute test/CN=xroute other CA" other-ca.pem

# Server leaves for localhost (SAN DNS:localhost, IP:127.0.0.1): RSA 2048 with a PKCS#1
# key, EC P-256 with a SEC1 key and the same EC key again as PKCS#8.
openssl genrsa -traditional -out server-rsa.key 2048 2>/dev/null
sign "$tmp/ca" "$tmp/ca.key" ca.pem server-rsa.key server-rsa.pem
openssl ecparam -name prime256v1 -genkey -noout -out server-ec.key
sign "$tmp/ca" "$tmp/ca.key" ca.pem server-ec.key server-ec.pem
openssl pkcs8 -topk8 -nocrypt -in server-ec.key -out server-ec.p8.key

# A chain file as a real server presents it: leaf first, then the issuing CA.
cat server-rsa.pem ca.pem >server-rsa-chain.pem
chmod 644 ./*.pem ./*.key
