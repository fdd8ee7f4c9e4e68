// Owning smart pointers for OpenSSL 3 objects.
//
// Every OpenSSL object Kernia creates is held by one of these, so no error path can leak
// it. Only non-deprecated OpenSSL 3 types are listed (builds with OPENSSL_NO_DEPRECATED).
//
//     Kernia::Server::Ossl::MacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
//     if (!ctx) return {};
#pragma once

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

#include <memory>

namespace Kernia::Server::Ossl {

// One deleter type per free function; unique_ptr never calls it with nullptr.
template <auto FreeFn>
struct Deleter
{
    template <typename T>
    void operator()(T *p) const noexcept { FreeFn(p); }
};

template <typename T, auto FreeFn>
using Ptr = std::unique_ptr<T, Deleter<FreeFn>>;

using MacPtr = Ptr<EVP_MAC, &EVP_MAC_free>;
using MacCtxPtr = Ptr<EVP_MAC_CTX, &EVP_MAC_CTX_free>;
using KdfPtr = Ptr<EVP_KDF, &EVP_KDF_free>;
using KdfCtxPtr = Ptr<EVP_KDF_CTX, &EVP_KDF_CTX_free>;
using MdPtr = Ptr<EVP_MD, &EVP_MD_free>;
using MdCtxPtr = Ptr<EVP_MD_CTX, &EVP_MD_CTX_free>;
using PkeyPtr = Ptr<EVP_PKEY, &EVP_PKEY_free>;
using PkeyCtxPtr = Ptr<EVP_PKEY_CTX, &EVP_PKEY_CTX_free>;
using CipherPtr = Ptr<EVP_CIPHER, &EVP_CIPHER_free>;
using CipherCtxPtr = Ptr<EVP_CIPHER_CTX, &EVP_CIPHER_CTX_free>;
using BignumPtr = Ptr<BIGNUM, &BN_free>;
using ParamBldPtr = Ptr<OSSL_PARAM_BLD, &OSSL_PARAM_BLD_free>;
using ParamPtr = Ptr<OSSL_PARAM, &OSSL_PARAM_free>;
using EcdsaSigPtr = Ptr<ECDSA_SIG, &ECDSA_SIG_free>;

} // namespace Kernia::Server::Ossl
