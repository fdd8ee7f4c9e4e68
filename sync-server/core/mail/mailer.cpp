#include "mailer.h"

Q_LOGGING_CATEGORY(lcMail, "kernia.mail")
