kernia_unit_test(tst_delete_user tst_delete_user.cpp test_server.h)
