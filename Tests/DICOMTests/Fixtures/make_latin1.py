#!/usr/bin/env python3
"""Writes latin1-name.dcm: a 4 x 4 secondary capture whose patient name and
study description are stored in ISO_IR 100 (Latin-1), for the character set
test of DicomFileTests. Run with Debian's python3-pydicom:

    /usr/bin/python3 Tests/DICOMTests/Fixtures/make_latin1.py
"""
import pathlib

from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

here = pathlib.Path(__file__).resolve().parent
meta = FileMetaDataset()
meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.543.14.9.1"
meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds = FileDataset(str(here / "latin1-name.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
ds.SpecificCharacterSet = "ISO_IR 100"
ds.SOPClassUID = meta.MediaStorageSOPClassUID
ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.543.14.9.2"
ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.543.14.9.3"
ds.Modality = "OT"
ds.PatientID = "LATIN1"
ds.PatientName = "Müller^Jürgen"
ds.StudyDescription = "Schädel Übersicht"
ds.Rows = ds.Columns = 4
ds.SamplesPerPixel = 1
ds.PhotometricInterpretation = "MONOCHROME2"
ds.BitsAllocated = ds.BitsStored = 8
ds.HighBit = 7
ds.PixelRepresentation = 0
ds.PixelData = bytes(range(16))
ds.is_little_endian = True
ds.is_implicit_VR = False
ds.save_as(here / "latin1-name.dcm", write_like_original=False)
