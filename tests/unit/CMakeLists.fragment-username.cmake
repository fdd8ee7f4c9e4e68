kernia_unit_test(tst_username tst_username.cpp test_server.h)
