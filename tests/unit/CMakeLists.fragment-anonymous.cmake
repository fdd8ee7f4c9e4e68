kernia_unit_test(tst_anonymous tst_anonymous.cpp test_server.h)
