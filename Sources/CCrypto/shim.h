// OpenSSL's libcrypto for Swift: HMAC-SHA256 and a constant-time compare for the connection-sync
// authentication envelope (SwitchyardControl/Sync/SyncAuth.swift), nothing else.
// Why OpenSSL and not swift-crypto: swift-crypto builds its own copy of BoringSSL, which takes
// minutes in each of CI's configurations (debug, release, fuzz); libcrypto is already on every
// Debian machine and libssl-dev adds only its headers.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
