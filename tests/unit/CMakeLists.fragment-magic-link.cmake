kernia_unit_test(tst_magic_link tst_magic_link.cpp test_server.h)
