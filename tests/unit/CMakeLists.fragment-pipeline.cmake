kernia_unit_test(tst_pipeline tst_pipeline.cpp test_server.h)
