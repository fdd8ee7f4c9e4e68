kernia_unit_test(tst_crypto tst_crypto.cpp)
kernia_unit_test(tst_cookies tst_cookies.cpp)
# Runs real helper processes: the kernia-scrypt-helper of this build.
kernia_unit_test(tst_scrypt_helpers tst_scrypt_helpers.cpp)
target_compile_definitions(tst_scrypt_helpers PRIVATE KERNIA_SCRYPT_HELPER="$<TARGET_FILE:kernia-scrypt-helper>")
add_dependencies(tst_scrypt_helpers kernia-scrypt-helper)
