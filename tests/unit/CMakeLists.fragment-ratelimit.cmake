kernia_unit_test(tst_ratelimit tst_ratelimit.cpp test_server.h)
