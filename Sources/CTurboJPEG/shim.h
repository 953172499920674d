// libjpeg-turbo's TurboJPEG API (Debian: libturbojpeg0-dev). Its functions return error codes
// instead of calling exit() like libjpeg's default error handler, so corrupt frames are safe.
#include <turbojpeg.h>
