kernia_unit_test(tst_ops tst_ops.cpp test_server.h)
