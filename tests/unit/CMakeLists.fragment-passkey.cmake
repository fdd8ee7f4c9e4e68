kernia_unit_test(tst_passkey tst_passkey.cpp test_server.h soft_authenticator.h)
