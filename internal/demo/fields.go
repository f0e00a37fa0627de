package demo

import "github.com/consentgate/consentgate/internal/record"

// ExportFields are ExportFlags as the export reads them.
func ExportFields() (record.Fields, error) {
	var f record.Fields
	fl := ExportFlags
	for i := 0; i+1 < len(fl); i += 2 {
		switch fl[i] {
		case "--id":
			f.ID = fl[i+1]
		case "--time":
			f.Time = fl[i+1]
		case "--category-field":
			f.Category = fl[i+1]
		case "--subject":
			sf, err := record.ParseSubjectFlag(fl[i+1])
			if err != nil {
				return f, err
			}
			f.Subjects = append(f.Subjects, sf)
		}
	}
	return f, f.Validate()
}
