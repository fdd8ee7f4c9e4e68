kernia_unit_test(tst_crypto tst_crypto.cpp)
kernia_unit_test(tst_cookies tst_cookies.cpp)
