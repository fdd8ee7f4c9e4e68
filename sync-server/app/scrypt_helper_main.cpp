// kernia-scrypt-helper: hashes passwords for kernia-server, which starts two of these next
// to itself (core/crypto/scrypt_processes.h). Not meant to be run by hand.
#include "crypto/scrypt_helper.h"

int main(int argc, char *argv[])
{
    return Kernia::Server::ScryptHelper::runHelperProcess(argc, argv);
}
