/* DICOM images (RSNA Pneumonia, SIIM-ACR Pneumothorax): one grayscale frame as float [rows, cols].
 *
 * Read: a 128-byte preamble and "DICM", the group-2 meta header (explicit VR little endian), then a data set in
 * implicit VR little endian (1.2.840.10008.1.2), explicit VR little endian (1.2.840.10008.1.2.1) or JPEG baseline
 * (1.2.840.10008.1.2.4.50, the first frame decoded by libjpeg-turbo). Sequences of defined or undefined length are
 * skipped. Any other transfer syntax is PRIOR_ERR_UNSUPPORTED naming its UID and suggesting a conversion with dcmtk
 * (dcmdjpeg for the JPEG family). One sample per pixel, BitsAllocated 8 or 16.
 *
 * Pixel values: the stored value (masked to BitsStored, sign-extended when PixelRepresentation is 1) times
 * RescaleSlope plus RescaleIntercept. MONOCHROME1 (low values bright) is inverted within the representable range:
 * v' = value_min + value_max - v, where value_min/value_max are the rescaled ends of the stored range, so that after
 * reading every image is MONOCHROME2. */
#ifndef PRIOR_DICOM_H
#define PRIOR_DICOM_H

#include <stddef.h>
#include <stdint.h>

#include "prior/error.h"

typedef struct prior_dicom_image {
  int rows, cols;
  int bits_allocated, bits_stored, pixel_representation; /* pixel_representation 1 = signed */
  int monochrome1;                                       /* 1 when the file was MONOCHROME1 (already inverted) */
  int frames;                                            /* NumberOfFrames (1 when absent); only frame 1 is read */
  double slope, intercept;                               /* 1 and 0 when absent */
  float value_min, value_max;                            /* rescaled range of representable stored values */
  char transfer_syntax[68];
  float *pixels;                                         /* rows * cols, row-major */
} prior_dicom_image;

prior_status prior_dicom_read(const char *path, prior_dicom_image **out);
/* `name` is used in messages. */
prior_status prior_dicom_decode(const uint8_t *data, size_t len, const char *name, prior_dicom_image **out);
void prior_dicom_free(prior_dicom_image *img);

/* Intensities to [0,1] into out (rows * cols floats). per_image = 0: relative to the representable range
 * (an 8-bit image becomes v / 255, as a JPEG would); per_image = 1: relative to this image's own min and max
 * (a constant image becomes all zeros). */
prior_status prior_dicom_normalize(const prior_dicom_image *img, int per_image, float *out);

/* Writes a single-frame MONOCHROME2 image, explicit VR little endian, Secondary Capture, unsigned `bits` 8 (pixels
 * are uint8_t) or 16 (uint16_t). sop_instance_uid (required, digits and dots) and patient_id (may be NULL) are stored
 * as given. */
prior_status prior_dicom_write(const char *path, const void *pixels, int rows, int cols, int bits,
                               const char *sop_instance_uid, const char *patient_id);

#endif
