// OpenSSL's libssl for Swift: the TLS client of the SSL_GET checker
// (SwitchyardControl/TLSProbe.swift), and the few macros Swift cannot import, as functions.
// Why OpenSSL and not swift-nio-ssl: keepalived's SSL_GET is OpenSSL too (same defaults, same
// handshake), the checker runs on our own epoll loop rather than a NIO event loop, and
// swift-nio-ssl would build its own copy of BoringSSL in each of CI's configurations.
#include <string.h>
#include <stdlib.h>
#include <openssl/ssl.h>
#include <openssl/err.h>

// A client context as keepalived's check_ssl.c builds one: any TLS version, the server's
// certificate not verified, and a server's close without close_notify read as the end.
static inline SSL_CTX *switchyard_tls_client_context(void) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    }
    return ctx;
}

static int switchyard_tls_password_callback(char *buf, int size, int rwflag, void *userdata) {
    (void)rwflag;
    size_t length = strlen((const char *)userdata);
    if (length >= (size_t)size) return 0;
    memcpy(buf, userdata, length + 1);
    return (int)length;
}

// The key's password; the context keeps its own copy for its whole life.
static inline void switchyard_tls_set_password(SSL_CTX *ctx, const char *password) {
    SSL_CTX_set_default_passwd_cb_userdata(ctx, strdup(password));
    SSL_CTX_set_default_passwd_cb(ctx, switchyard_tls_password_callback);
}

static inline long switchyard_tls_set_server_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
