// scrypt itself (libsodium), without Qt: shared by the server (password.h) and the small
// kernia-scrypt-helper executable, which links nothing else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace Kernia::Server {

struct ScryptParams
{
    std::uint64_t n = 16384;
    std::uint32_t r = 16;
    std::uint32_t p = 1;
    int keyLength = 64;
};

// False for parameters scrypt refuses (n not a power of two, r or p zero, no key length)
// or that need more than 1 GiB per hash.
bool validScryptParams(const ScryptParams &params);

// The derived key (params.keyLength bytes), or an empty string for invalid parameters.
std::string scryptKdf(std::string_view password, std::string_view salt, const ScryptParams &params);

} // namespace Kernia::Server
